from django.apps import AppConfig


class DrillsConfig(AppConfig):
    name = "twinadmin.drills"
    label = "drills"

    def ready(self) -> None:
        from twinadmin.drills import jobs  # noqa: F401  (registers the job kind)
