"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS


@pytest.fixture(autouse=True)
def _isolated_vector_store(settings, tmp_path):
    """Every test gets its own local vector store file (the layer caches per setting values)."""
    settings.VECTOR_BACKEND = "local"
    settings.VECTOR_LOCAL_PATH = tmp_path / "vectors.sqlite3"
    settings.VECTOR_DIMENSION = 8
    yield


def _make_user(django_user_model, username: str, group: str | None, **extra):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def operator(db, django_user_model):
    return _make_user(django_user_model, "op", OPERATORS)


@pytest.fixture
def approver(db, django_user_model):
    return _make_user(django_user_model, "appr", APPROVERS)


@pytest.fixture
def auditor(db, django_user_model):
    return _make_user(django_user_model, "aud", AUDITORS)


@pytest.fixture
def nobody(db, django_user_model):
    """Signed in, but in no role group."""
    return _make_user(django_user_model, "nobody", None)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client
