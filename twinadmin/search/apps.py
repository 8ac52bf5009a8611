from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "twinadmin.search"
    label = "search"
    verbose_name = "Search and query latency"

    def ready(self) -> None:
        from twinadmin.search import jobs  # noqa: F401  (registers job kinds)
