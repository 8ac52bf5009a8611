"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.signals import connection_created

from tests.support.users import user_in_groups
from tests.support.vectors import DIM, start_server
from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS
from twinadmin.audit import dbguard
from twinadmin.vectors.server import LocalPineconeServer

# moto's S3 server and a bucket per test (the backup tests' object store)
pytest_plugins = ["tests.support.s3"]


def _audit_teardown_may_empty_the_log(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Test settings only: Django empties every table between transactional tests (TRUNCATE on
    PostgreSQL, DELETE on SQLite), which the audit log's database guards refuse otherwise. A
    test of the guards turns this back off for its own transaction."""
    dbguard.scratch_may_empty_the_log(connection)


connection_created.connect(_audit_teardown_may_empty_the_log, dispatch_uid="tests-audit-teardown")

# The fixtures through which a test reaches the database (pytest-django's; every fixture of ours
# that touches it depends on one of them, and `fixturenames` holds the whole closure).
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """TEST_DATABASE_ONLY=1 (scripts/test.sh's second pass, after the PostgreSQL one): only the
    tests that reach the database run again on SQLite. The others (the vector layer, pure
    functions, settings checks; about 500) do the same on either database."""
    if os.environ.get("TEST_DATABASE_ONLY") != "1":
        return
    kept, dropped = [], []
    for item in items:
        touches = item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(
            getattr(item, "fixturenames", ())
        )
        (kept if touches else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def _isolated_vector_store(settings, tmp_path):
    """Every test gets its own local vector store file (the layer caches per setting values)."""
    settings.VECTOR_BACKEND = "local"
    settings.VECTOR_LOCAL_PATH = tmp_path / "vectors.sqlite3"
    settings.VECTOR_DIMENSION = DIM
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users' passwords are hashed with a fast hasher: the production one (PBKDF2, a
    quarter of a second per hash here) would spend minutes of the suite on fixtures. What the
    tests check of passwords (validators, lockouts, sign-in) does not depend on the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_audit_key(settings, tmp_path):
    """The audit signing key and checkpoints of each test in its own directory, never var/."""
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "audit" / "signing-key.pem"
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit" / "checkpoints"


@pytest.fixture(scope="session", autouse=True)
def _backup_kek(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One backup key-encryption key for the whole run, never var/'s: a worker started for a
    package reads backups that the tests wrote (it inherits BACKUP_KEK_FILE from os.environ)."""
    import os

    from django.conf import settings as django_settings

    from migrations_app.backup_crypto import kek_generate

    path = tmp_path_factory.mktemp("backup-kek") / "kek"
    kek_generate(path)
    os.environ["BACKUP_KEK_FILE"] = str(path)
    django_settings.BACKUP_KEK_FILE = path
    return path


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., LocalPineconeServer]]:
    """Start in-process local Pinecone servers on free loopback ports (the options of
    tests.support.vectors.start_server); stopped after the test."""
    servers: list[LocalPineconeServer] = []

    def make(*, grpc: bool = False, **options: Any) -> LocalPineconeServer:
        server = start_server(tmp_path / f"server-{len(servers)}.sqlite3", **options)
        servers.append(server)
        if grpc:  # the gRPC data plane too, on a free port: server.grpc_url
            server.serve_grpc()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def operator(db):
    return user_in_groups("op", OPERATORS, password="pw-op")


@pytest.fixture
def approver(db):
    return user_in_groups("appr", APPROVERS, password="pw-appr")


@pytest.fixture
def auditor(db):
    return user_in_groups("aud", AUDITORS, password="pw-aud")


@pytest.fixture
def nobody(db):
    """Signed in, but in no role group."""
    return user_in_groups("nobody", password="pw-nobody")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client
