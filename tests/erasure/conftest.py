"""Erasure fixtures: creators with twins and vectors in the real local store (or behind the
local Pinecone server, through the SDK), users in each role, and a helper that runs a job here
the way the worker task does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import Group

from tests.vectors.conftest import make_server, use_server  # noqa: F401  (make_server: a fixture)
from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS
from twinadmin.jobs.leases import resumable_job_run
from twinadmin.jobs.models import Job
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.vectors import get_index
from twinadmin.vectors.base import VectorIndex
from twinadmin.vectors.types import Vector

DIM = 8
# Distinctive vector content: receipts and audit entries must never contain any of it.
SECRET_TEXT = "tell-no-one-7f3a"


def vectors(count: int, *, prefix: str = "doc", seed: int = 0) -> list[Vector]:
    rng = np.random.default_rng(seed)
    return [
        Vector(
            f"{prefix}-{SECRET_TEXT}-{i}",
            rng.uniform(0.1, 1.0, DIM),
            {"text": f"{SECRET_TEXT} chunk {i}", "source": f"uploads/{SECRET_TEXT}.pdf"},
        )
        for i in range(count)
    ]


def fill(index: VectorIndex, counts: dict[str, int]) -> None:
    for i, (name, count) in enumerate(counts.items()):
        if count:
            index.upsert(name, vectors(count, seed=i))


def counts_of(index: VectorIndex) -> dict[str, int]:
    return index.describe_index_stats().namespaces


def make_creator(creator_id: str, twin_ids: Iterable[str] = ()) -> Creator:
    creator = Creator.objects.create(creator_id=creator_id)
    for twin_id in twin_ids:
        Twin.objects.create(creator=creator, twin_id=twin_id)
    return creator


def run_job(job_id: int, runner: str | None = None) -> Job | None:
    """What the worker task does with a delivery, in this process."""
    return resumable_job_run(job_id=job_id, runner=runner)


@pytest.fixture
def index_server(make_server, settings):  # noqa: F811  (the fixture imported above)
    """A test that asks for this gets `index` (and `creator_a1`) through the real SDK against
    this local Pinecone server, whose faults it can then set: one adapter attempt per call."""
    server = make_server(dimension=DIM)
    use_server(settings, server)
    return server


@pytest.fixture
def index(settings, request) -> VectorIndex:
    settings.VECTOR_DIMENSION = DIM
    # Fast verification in tests: the local store's counts never lag, and failure cases should
    # give up quickly.
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 5
    if "index_server" in request.fixturenames:
        request.getfixturevalue("index_server")
    return get_index()


@pytest.fixture
def creator_a1(db, index) -> Creator:
    """Creator a.1 with two registry twins, an orphan twin namespace, and neighbours whose ids
    start with `a.1` (a.10, a.1x) plus another creator's twin whose id starts with `a.1`."""
    creator = make_creator("a.1", ["t1", "t2"])
    make_creator("a.10", ["t1"])
    make_creator("a.1x")
    make_creator("b.2", ["a.1", "a.1-x"])
    fill(
        index,
        {
            codec.creator_namespace("a.1"): 4,
            codec.twin_namespace("a.1", "t1"): 3,
            codec.twin_namespace("a.1", "t2"): 2,
            codec.twin_namespace("a.1", "orphan-9"): 5,  # the registry does not know it
            codec.creator_namespace("a.10"): 6,
            codec.twin_namespace("a.10", "t1"): 7,
            codec.creator_namespace("a.1x"): 1,
            codec.twin_namespace("b.2", "a.1"): 2,
            codec.twin_namespace("b.2", "a.1-x"): 2,
            "creator_a.1_scratch": 1,  # not a name the codec attributes to anyone
            "": 3,
        },
    )
    return creator


NEIGHBOURS = {
    "creator_a.10": 6,
    "creator_a.10_twin_t1": 7,
    "creator_a.1x": 1,
    "creator_b.2_twin_a.1": 2,
    "creator_b.2_twin_a.1-x": 2,
    "creator_a.1_scratch": 1,
    "__default__": 3,
}
A1_NAMESPACES = {
    "creator_a.1": 4,
    "creator_a.1_twin_t1": 3,
    "creator_a.1_twin_t2": 2,
    "creator_a.1_twin_orphan-9": 5,
}


def _user(django_user_model: Any, username: str, *groups: str) -> Any:
    # No password: tests sign in with force_login, and hashing one costs ~0.3 s per user.
    user = django_user_model.objects.create_user(username=username, password=None)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def make_user(db, django_user_model) -> Callable[..., Any]:
    return lambda username, *groups: _user(django_user_model, username, *groups)


@pytest.fixture
def second_approver(make_user) -> Any:
    return make_user("appr2", APPROVERS)


@pytest.fixture
def operator_approver(make_user) -> Any:
    """Someone in both groups: may file requests, may approve others' but never their own."""
    return make_user("opappr", OPERATORS, APPROVERS)


# The suite-wide role fixtures, without password hashing (same usernames).
@pytest.fixture
def operator(make_user) -> Any:
    return make_user("op", OPERATORS)


@pytest.fixture
def approver(make_user) -> Any:
    return make_user("appr", APPROVERS)


@pytest.fixture
def auditor(make_user) -> Any:
    return make_user("aud", AUDITORS)
