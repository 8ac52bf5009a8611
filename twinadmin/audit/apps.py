from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "twinadmin.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from twinadmin.audit import jobs  # noqa: F401  (registers job kinds)
        from twinadmin.audit.dbguard import register_sqlite_function

        connection_created.connect(register_sqlite_function, dispatch_uid="audit-sqlite-guard")
