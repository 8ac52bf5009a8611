from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "twinadmin.audit"
    label = "audit"
    verbose_name = "Audit log"
