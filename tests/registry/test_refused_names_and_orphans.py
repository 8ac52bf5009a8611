"""Bad input to the registry is refused with a message and changes nothing: a namespace the
index does not hold cannot be registered from Drift, and a human-readable name (a creator's
display name, a twin's name) may not hold bidirectional controls (U+202A-U+202E, U+2066-U+2069),
which make a name read differently from what is stored."""

import pytest
from django.urls import reverse

from tests.support.vectors import fill
from twinadmin.audit.models import AuditEntry
from twinadmin.lib.text import BIDI_CONTROLS
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import RegistryError, creator_create, orphan_register_as_twin, twin_create
from twinadmin.vectors import get_index

pytestmark = pytest.mark.django_db

REGISTER = reverse("registry-register-orphan")
CONTROLS = sorted(BIDI_CONTROLS)


def _rows() -> tuple[int, int, int]:
    return Creator.objects.count(), Twin.objects.count(), AuditEntry.objects.count()


def test_the_controls_are_exactly_the_embeddings_overrides_and_isolates():
    assert [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]] == CONTROLS


def test_registering_a_namespace_the_index_does_not_hold_is_refused(operator_client):
    before = _rows()
    response = operator_client.post(REGISTER, {"namespace": "creator_ghost.1_twin_x"})
    assert response.status_code == 400
    assert "holds no vectors in 'creator_ghost.1_twin_x'" in response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    assert _rows() == before and not Creator.objects.filter(creator_id="ghost.1").exists()


def test_a_namespace_in_the_index_is_registered_with_its_live_count(operator_client):
    fill(get_index(), {"creator_ghost.1_twin_x": 3})  # not refreshed: the snapshot has not seen it
    response = operator_client.post(REGISTER, {"namespace": "creator_ghost.1_twin_x"})
    assert response.status_code == 302
    assert Twin.objects.get(creator__creator_id="ghost.1", twin_id="x").vector_count == 3


def test_a_known_creators_namespace_not_in_the_index_leaves_the_creator_as_it_was(operator):
    creator_create(creator_id="a.1")
    before = _rows()
    with pytest.raises(RegistryError, match="holds no vectors"):
        orphan_register_as_twin(namespace="creator_a.1_twin_gone", actor=operator)
    assert _rows() == before


def test_a_refusal_quotes_the_input_as_text_not_html(operator_client):
    response = operator_client.post(REGISTER, {"namespace": "<script>alert(1)</script>"})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_display_name_with_a_bidi_control_is_refused_on_the_page(operator_client, control):
    before = _rows()
    name = f"Sainath{control}1.on.htaniaS"
    response = operator_client.post(
        reverse("registry-create-creator"), {"creator_id": "c.1", "display_name": name}
    )
    assert response.status_code == 400
    assert f"bidirectional control characters (found U+{ord(control):04X})" in response.content.decode()
    assert _rows() == before


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_twin_name_with_a_bidi_control_is_refused_on_the_page(operator_client, control):
    creator_create(creator_id="c.1")
    before = _rows()
    url = reverse("registry-create-twin", args=["c.1"])
    response = operator_client.post(url, {"name": f"notes{control}", "naming": "semantic"})
    assert response.status_code == 400 and "bidirectional control" in response.content.decode()
    fill(get_index(), {"creator_c.1_twin_x": 1})
    response = operator_client.post(REGISTER, {"namespace": "creator_c.1_twin_x", "name": f"x{control}"})
    assert response.status_code == 400 and "bidirectional control" in response.content.decode()
    assert _rows() == before


def test_the_services_refuse_them_too(operator):
    with pytest.raises(RegistryError, match="A display name may not contain"):
        creator_create(creator_id="c.1", display_name="a\u202eb")
    creator = creator_create(creator_id="c.2", display_name="plain \u200f mark")  # a mark hides nothing
    before = _rows()
    with pytest.raises(RegistryError, match="A twin name may not contain"):
        twin_create(creator=creator, name="\u2066x\u2069", naming="semantic")
    assert _rows() == before
