"""Every state change leaves an entry: creators and twins created, an orphan registered from
Drift, a user's roles changed in the admin. And the admin cannot change registry, job or audit
rows behind the services' back."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.support.users import user_in_groups
from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_chain_verify
from twinadmin.jobs.services import job_create
from twinadmin.registry.models import Creator
from twinadmin.registry.services import creator_create, orphan_register_as_twin, twin_create
from twinadmin.vectors import Vector, get_index

pytestmark = pytest.mark.django_db


def actions() -> list[tuple[str, str, str]]:
    return list(AuditEntry.objects.order_by("seq").values_list("action", "target_id", "actor"))


def test_creating_a_creator_and_a_twin_is_audited(operator):
    creator = creator_create(creator_id="a.1", display_name="A", actor=operator)
    twin_create(creator=creator, twin_id="t1", name="one", actor=operator)
    assert actions() == [("creator.create", "a.1", "op"), ("twin.create", "t1", "op")]
    twin = AuditEntry.objects.get(action="twin.create")
    assert twin.creator_id == "a.1" and twin.details["name"] == "one"
    assert audit_chain_verify().ok


def test_a_refused_creation_leaves_no_entry(operator):
    creator_create(creator_id="a.1", actor=operator)
    with pytest.raises(ValueError):
        creator_create(creator_id="a.1", actor=operator)
    assert [a for a, _, _ in actions()] == ["creator.create"]


@pytest.fixture(autouse=True)
def orphans_in_the_index() -> None:
    """Namespaces the index holds and the registry does not know: what "register orphan" is for
    (it refuses a namespace the index does not hold)."""
    index = get_index()
    for name in ("creator_b.2_twin_x1", "creator_d.4_twin_x"):
        index.upsert(name, [Vector(f"{name}-v", np.ones(index.dimension, np.float32))])


def test_registering_an_orphan_from_drift_is_audited(operator_client):
    ns = "creator_b.2_twin_x1"
    response = operator_client.post(reverse("registry-register-orphan"), {"namespace": ns, "name": "X"})
    assert response.status_code == 302
    assert [a for a, _, _ in actions()] == ["creator.create", "twin.create", "twin.register_orphan"]
    entry = AuditEntry.objects.get(action="twin.register_orphan")
    assert entry.target_id == ns and entry.creator_id == "b.2" and entry.details["twin_id"] == "x1"


def test_orphan_of_a_known_creator_records_no_second_creator(operator):
    creator_create(creator_id="b.2", actor=operator)
    orphan_register_as_twin(namespace="creator_b.2_twin_x1", actor=operator)
    assert [a for a, _, _ in actions()] == ["creator.create", "twin.create", "twin.register_orphan"]


@pytest.fixture
def root_client(client):
    root = get_user_model().objects.create_superuser("root", password="pw-root")
    client.force_login(root)
    return client


def _user_form(user, groups, **flags) -> dict:
    return {
        "username": user.username,
        "is_active": "on" if flags.get("is_active", True) else "",
        "is_staff": "on" if flags.get("is_staff") else "",
        "is_superuser": "on" if flags.get("is_superuser") else "",
        "groups": [g.pk for g in groups],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "first_name": "",
        "last_name": "",
        "email": "",
        "user_permissions": [],
    }


def test_a_role_change_in_the_admin_is_audited_with_before_and_after(root_client):
    user = user_in_groups("carol", AUDITORS)
    operators = Group.objects.get_or_create(name=OPERATORS)[0]
    approvers = Group.objects.get_or_create(name=APPROVERS)[0]
    url = reverse("admin:auth_user_change", args=[user.pk])
    response = root_client.post(url, _user_form(user, [operators, approvers], is_staff=True))
    assert response.status_code == 302, response.content.decode()[:2000]
    (entry,) = AuditEntry.objects.filter(action="account.roles.change")
    assert entry.actor == "root" and entry.target_type == "account" and entry.target_id == "carol"
    assert entry.details["before"]["groups"] == [AUDITORS] and entry.details["before"]["is_staff"] is False
    assert entry.details["after"]["groups"] == [APPROVERS, OPERATORS] and entry.details["after"]["is_staff"]
    # Saving without a change records nothing more.
    root_client.post(url, _user_form(user, [operators, approvers], is_staff=True))
    assert AuditEntry.objects.filter(action="account.roles.change").count() == 1


@pytest.mark.parametrize(
    "model", ["registry/creator", "registry/twin", "registry/indexnamespace", "jobs/job"]
)
def test_registry_and_job_rows_are_read_only_in_the_admin(root_client, model):
    creator = Creator.objects.create(creator_id="a.1")
    twin = creator.twins.create(twin_id="t1") if model == "registry/twin" else None
    job = job_create(kind="drift_report", enqueue=False) if model == "jobs/job" else None
    app, name = model.split("/")
    assert root_client.get(reverse(f"admin:{app}_{name}_changelist")).status_code == 200
    assert root_client.get(reverse(f"admin:{app}_{name}_add")).status_code == 403
    obj = {"registry/creator": creator, "registry/twin": twin, "jobs/job": job}.get(model)
    if obj is not None:
        change = reverse(f"admin:{app}_{name}_change", args=[obj.pk])
        page = root_client.get(change)
        assert page.status_code == 200 and b'name="_save"' not in page.content
        assert root_client.post(change, {}).status_code == 403
        delete = reverse(f"admin:{app}_{name}_delete", args=[obj.pk])
        assert root_client.post(delete, {"post": "yes"}).status_code == 403
    assert Creator.objects.filter(creator_id="a.1").exists()


def test_the_pages_record_who_created_and_registered(operator_client):
    operator_client.post(reverse("registry-create-creator"), {"creator_id": "c.3", "display_name": "C"})
    operator_client.post(
        reverse("registry-create-twin", args=["c.3"]), {"name": "one", "naming": "uuid", "twin_id": "t9"}
    )
    operator_client.post(
        reverse("registry-register-orphan"), {"namespace": "creator_d.4_twin_x", "name": "X"}
    )

    actors = {action: actor for action, _, actor in actions()}
    assert actors["creator.create"] == actors["twin.create"] == actors["twin.register_orphan"] == "op"
