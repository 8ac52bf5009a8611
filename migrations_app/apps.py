from django.apps import AppConfig


class MigrationsAppConfig(AppConfig):
    """Namespace migrations (legacy UUID namespaces -> creator/twin layout). Not schema migrations."""

    name = "migrations_app"
    verbose_name = "Namespace migrations"

    def ready(self) -> None:
        from migrations_app import checks, jobs  # noqa: F401  (the KEK check; the run's job kind)
