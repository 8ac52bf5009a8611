from django.apps import AppConfig


class ErasureConfig(AppConfig):
    name = "twinadmin.erasure"
    label = "erasure"

    def ready(self) -> None:
        from twinadmin.erasure import jobs  # noqa: F401  (registers job kinds)
