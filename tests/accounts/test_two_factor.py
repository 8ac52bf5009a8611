"""Optional TOTP two-factor sign-in (django-otp): a user sets up an authenticator on their own
account page, sign-in then asks for its code, and it can be removed with a code; REQUIRE_2FA_FOR
makes it mandatory for the roles it names. Codes come from django-otp's own TOTP functions and the
device's key, the way an authenticator app computes them."""

from __future__ import annotations

import base64
import re
import time

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from twinadmin.audit.models import AuditEntry

pytestmark = pytest.mark.django_db
OVERVIEW = "/"


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """What the app shows now (or `steps_ahead` 30-second steps later: a code used once is
    refused, and the device accepts the next step's code within its tolerance)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def sign_in(client, username: str = "op", password: str = "pw-op"):
    return client.post(reverse("accounts-login"), {"username": username, "password": password})


@pytest.fixture
def with_device(operator):
    return TOTPDevice.objects.create(user=operator, name="authenticator", confirmed=True)


def test_setting_up_shows_a_qr_code_and_the_key_then_confirming_turns_it_on(client, operator):
    client.force_login(operator)
    page = client.get(reverse("accounts-show-two-factor")).content.decode()
    assert "Off:" in page
    client.post(reverse("accounts-begin-two-factor"))
    page = client.get(reverse("accounts-show-two-factor")).content.decode()
    assert re.search(r'<svg [^>]*class="segno"', page) and "data:image" not in page
    device = TOTPDevice.objects.get(user=operator)
    assert not device.confirmed
    secret = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page).group(1)
    assert (
        base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
        == device.bin_key
    )

    wrong = client.post(
        reverse("accounts-confirm-two-factor"), {"code": "000000" if code(device) != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed

    time.sleep(1.1)  # django-otp makes a device wait after a wrong code (1 s after the first)
    right = client.post(reverse("accounts-confirm-two-factor"), {"code": code(device)})
    assert right.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    added = AuditEntry.objects.get(action="account.two_factor.add")
    assert added.target_id == "op" and added.outcome == "success"
    # This session is the one that proved the device: it goes on without another code.
    assert client.get(OVERVIEW).status_code == 200


def test_sign_in_asks_for_the_code_and_nothing_opens_without_it(client, with_device):
    response = sign_in(client)
    assert response.status_code == 302
    page = client.get(OVERVIEW)
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts-verify-login"))
    assert client.get(reverse("registry-list-creators")).status_code == 302
    htmx = client.get(reverse("registry-list-creators"), HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == reverse("accounts-verify-login")
    assert client.get(reverse("admin:index")).status_code == 302

    bad = client.post(reverse("accounts-verify-login"), {"code": "12x456", "next": OVERVIEW})
    assert bad.status_code == 200 and "six digits" in bad.content.decode()
    good = client.post(reverse("accounts-verify-login"), {"code": code(with_device), "next": OVERVIEW})
    assert good.status_code == 302 and good["Location"] == OVERVIEW
    assert client.get(OVERVIEW).status_code == 200


def test_a_code_is_not_taken_twice(client, with_device):
    sign_in(client)
    first = code(with_device)
    client.post(reverse("accounts-verify-login"), {"code": first})
    client.logout()
    sign_in(client)
    again = client.post(reverse("accounts-verify-login"), {"code": first})
    assert again.status_code == 200 and "used already" in again.content.decode()
    assert client.get(OVERVIEW).status_code == 302


def test_the_next_address_after_the_code_stays_on_this_site(client, with_device):
    sign_in(client)
    response = client.post(
        reverse("accounts-verify-login"), {"code": code(with_device), "next": "https://evil.example/"}
    )
    assert response["Location"] == OVERVIEW


def test_removing_needs_a_current_code_and_is_audited(client, operator, with_device):
    client.force_login(operator)
    client.post(reverse("accounts-verify-login"), {"code": code(with_device)})
    refused = client.post(reverse("accounts-remove-two-factor"), {"code": code(with_device)})  # used
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(pk=with_device.pk).exists()
    throttled = client.post(reverse("accounts-remove-two-factor"), {"code": code(with_device, steps_ahead=1)})
    assert throttled.status_code == 400 and "Too many wrong codes" in throttled.content.decode()
    time.sleep(1.1)
    removed = client.post(reverse("accounts-remove-two-factor"), {"code": code(with_device, steps_ahead=1)})
    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(user=operator).exists()
    assert AuditEntry.objects.filter(action="account.two_factor.remove", target_id="op").count() == 1


def test_without_require_2fa_for_a_role_signs_in_with_the_password_only(client, operator):
    sign_in(client)
    assert client.get(OVERVIEW).status_code == 200


def test_a_required_role_without_a_device_is_sent_to_the_setup_page(client, operator, auditor, settings):
    settings.REQUIRE_2FA_FOR = ["operators"]
    sign_in(client)
    page = client.get(OVERVIEW)
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts-show-two-factor"))
    setup = client.get(reverse("accounts-show-two-factor"))
    assert setup.status_code == 200 and "requires two-factor sign-in" in setup.content.decode()
    assert client.post(reverse("accounts-logout")).status_code == 302

    # Roles not named go on as before.
    sign_in(client, "aud", "pw-aud")
    assert client.get(OVERVIEW).status_code == 200


def test_a_required_role_gets_in_once_the_device_is_confirmed(client, operator, settings):
    settings.REQUIRE_2FA_FOR = ["operators"]
    sign_in(client)
    client.post(reverse("accounts-begin-two-factor"))
    device = TOTPDevice.objects.get(user=operator)
    client.post(reverse("accounts-confirm-two-factor"), {"code": code(device)})
    assert client.get(OVERVIEW).status_code == 200


def test_role_required_refuses_a_session_that_owes_its_code(rf, operator, settings):
    """The one permission helper refuses too, even where the middleware did not run."""
    from twinadmin.accounts.roles import role_required

    settings.REQUIRE_2FA_FOR = ["operators"]
    request = rf.get("/")
    request.user = operator
    request.htmx = False
    response = role_required("operators")(lambda request: None)(request)
    assert response.status_code == 403


def test_an_unknown_role_in_require_2fa_for_stops_the_start(settings):
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    settings.REQUIRE_2FA_FOR = ["operators", "admins"]
    with pytest.raises(ImproperlyConfigured, match="admins"):
        apps.get_app_config("accounts").ready()


def test_a_session_owing_its_code_still_reaches_the_pages_open_to_anyone(client, with_device):
    sign_in(client)  # password given, code not yet
    assert client.get(OVERVIEW).status_code == 302

    health = client.get(reverse("ops-show-health"))
    metrics = client.get(reverse("ops-show-metrics"))  # from 127.0.0.1, allowed by default

    assert health.status_code in (200, 503) and health["Content-Type"] == "application/json"
    assert metrics.status_code == 200 and b"twinadmin_jobs" in metrics.content


@pytest.mark.parametrize("next_url", ["!", "32744", "a%00b"])
def test_a_bare_word_as_the_next_address_is_a_path_not_a_500(client, operator, next_url):
    client.force_login(operator)  # no device: the code page sends on at once

    response = client.get(reverse("accounts-verify-login") + f"?next={next_url}")

    assert response.status_code == 302
