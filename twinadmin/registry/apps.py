from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "twinadmin.registry"
    label = "registry"

    def ready(self) -> None:
        from twinadmin.registry import jobs  # noqa: F401  (registers job kinds)
