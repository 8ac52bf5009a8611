from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the health check and the metrics a monitoring system reads."""

    name = "twinadmin.ops"
    label = "ops"
