from django.apps import AppConfig


class MigrationsAppConfig(AppConfig):
    """Namespace migrations (legacy UUID namespaces -> creator/twin layout). Not schema migrations."""

    name = "migrations_app"
    verbose_name = "Namespace migrations"
