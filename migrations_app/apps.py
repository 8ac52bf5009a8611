from django.apps import AppConfig


class MigrationsAppConfig(AppConfig):
    """Namespace migrations (legacy UUID namespaces -> creator/twin layout). Not schema migrations."""

    name = "migrations_app"
    verbose_name = "Namespace migrations"

    def ready(self) -> None:
        from migrations_app.services import migration_runs_sweep
        from twinadmin.jobs.handlers import register_sweeper

        # A run's phases fence on its own row (runner token, attempt): the jobs sweep asks this
        # app which runs lost their worker.
        register_sweeper("migrations", migration_runs_sweep)
