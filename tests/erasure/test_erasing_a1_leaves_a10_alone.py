"""Property: erasing creator X removes exactly the namespaces the codec attributes to X. Creators
whose ids extend X (`a.1` -> `a.10`, `a.1x`, `a.1-b`), twins of other creators whose ids start
with X, and names that merely begin with `creator_X` without parsing to X are never touched."""

from __future__ import annotations

import string

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.erasure import make_creator, run_job
from tests.support.vectors import counts_of, fill
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs.models import Job
from twinadmin.registry import codec

pytestmark = pytest.mark.django_db

_ALNUM = string.ascii_lowercase + string.digits
_ids = st.from_regex(codec.ID_PATTERN.replace("{0,62}", "{0,6}"), fullmatch=True)
# What follows X in a neighbour's id: keeps the neighbour valid and different from X.
_suffixes = st.from_regex(r"[a-z0-9.-]{0,4}[a-z0-9]", fullmatch=True)


@st.composite
def layouts(draw):
    target = draw(_ids)
    neighbours = draw(st.lists(_suffixes.map(lambda s: target + s), min_size=1, max_size=4, unique=True))
    neighbours = [n for n in neighbours if codec.is_valid_id(n) and n != target]
    owned_twins = draw(st.lists(_ids, max_size=4, unique=True))
    registered = draw(st.lists(st.booleans(), min_size=len(owned_twins), max_size=len(owned_twins)))
    # Twins of other creators whose ids start with the target id.
    other_twins = draw(st.lists(_suffixes.map(lambda s: target + s), max_size=3, unique=True))
    names = {codec.creator_namespace(target): 2}
    names.update({codec.twin_namespace(target, t): 1 + i for i, t in enumerate(owned_twins)})
    untouched = {}
    for i, neighbour in enumerate(neighbours):
        untouched[codec.creator_namespace(neighbour)] = 1 + i
        untouched[codec.twin_namespace(neighbour, draw(_ids))] = 2 + i
        if owned_twins:  # the same twin id under a longer creator id
            untouched[codec.twin_namespace(neighbour, owned_twins[0])] = 3
    other = draw(_ids.filter(lambda c: c != target and c not in neighbours))
    untouched.update(
        {codec.twin_namespace(other, t): 4 for t in [target, *other_twins] if codec.is_valid_id(t)}
    )
    # Begins with creator_<target> but is nobody's by parse.
    untouched[f"creator_{target}_notes"] = 1
    untouched[f"creator_{target}_twin_{draw(_ids)}_twin_x"] = 1
    untouched[f"creator_{target}X"] = 1
    untouched[""] = 1
    return (
        target,
        names,
        untouched,
        [t for t, r in zip(owned_twins, registered, strict=True) if r],
        neighbours,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=layouts())
def test_erasing_a_creator_leaves_every_other_namespace_alone(index, operator, approver, layout):
    target, owned, untouched, registered_twins, neighbours = layout
    for namespace in list(index.iter_namespaces()):
        index.delete_namespace(namespace.name)
    fill(index, {**owned, **untouched})

    with transaction.atomic():  # each example rolls its rows back
        make_creator(target, registered_twins)
        for neighbour in neighbours:
            make_creator(neighbour, ["t"])
        erasure = erasure_request_file(creator_id=target, reason="p", confirm=target, actor=operator)
        erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
        erasure.refresh_from_db()
        job = run_job(erasure.job_id)

        assert job.status == Job.Status.SUCCEEDED, job.error
        assert counts_of(index) == {("__default__" if k == "" else k): v for k, v in untouched.items()}
        erased = {n.name: n.count_before for n in erasure.namespaces.exclude(status="not_found")}
        assert erased == owned
        transaction.set_rollback(True)
