"""Erasure fixtures: creators with twins and vectors in the real local store (or behind the
local Pinecone server, through the SDK), and users in each role. The layout's constants and the
helper that runs a job here the way the worker task does are in tests.support.erasure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.erasure import make_creator
from tests.support.users import user_in_groups
from tests.support.vectors import DIM, fill, use_server
from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS
from twinadmin.registry import codec
from twinadmin.registry.models import Creator
from twinadmin.vectors import get_index
from twinadmin.vectors.base import VectorIndex


@pytest.fixture
def index_server(make_server, settings):
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


@pytest.fixture
def make_user(db) -> Callable[..., Any]:
    """Users without a password: tests sign in with force_login."""
    return user_in_groups


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
