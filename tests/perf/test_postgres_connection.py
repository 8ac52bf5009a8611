"""PostgreSQL connections of the app do not JIT-compile queries: for the pages' short queries the
compilation costs more than it saves (140 ms of Drift's 166 ms at 100,000 namespaces)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_postgres_connections_run_without_jit() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
