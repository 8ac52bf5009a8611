from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "twinadmin.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from twinadmin.audit import jobs  # noqa: F401  (registers job kinds)
