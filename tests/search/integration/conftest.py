"""Real Celery workers for the search integration tests (the erasure tests' fixture)."""

from tests.erasure.integration.conftest import start_worker  # noqa: F401  (fixture)
