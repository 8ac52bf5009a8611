"""Repeated failed sign-ins lock out the username, and separately the address they come from
(django-axes): the sign-in page says so and for how long, the lockout is audited once and
without the password, and a successful sign-in clears the count."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse

from tests.support.users import user_in_groups
from twinadmin.accounts.roles import OPERATORS
from twinadmin.audit.models import AuditEntry

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
MESSAGE = (
    "Too many failed sign-ins for this account or address; try again in 15 minutes or ask an administrator."
)


def _sign_in(client, username: str, password: str, address: str = "10.0.0.1", **headers: str):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, operator):
    for _ in range(4):
        assert _sign_in(client, "op", "wrong-password").status_code == 200
    locked = _sign_in(client, "op", "wrong-password")
    assert locked.status_code == 429
    assert MESSAGE in locked.content.decode()

    # The right password from another address: still locked (the username is).
    again = _sign_in(client, "op", "pw-op", address="10.0.0.99")
    assert again.status_code == 429 and MESSAGE in again.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_audited_once_without_the_password(client, operator):
    for _ in range(7):
        _sign_in(client, "op", "secret-guess-1234")
    entries = list(AuditEntry.objects.filter(action="account.lockout"))
    assert len(entries) == 1
    entry = entries[0]
    assert entry.outcome == "failure" and entry.target_id == "op"
    assert entry.details["address"] == "10.0.0.1" and entry.details["failures"] == 5
    assert "secret-guess-1234" not in str(entry.details)


def test_failures_without_lockout_are_not_audited(client, operator):
    for _ in range(4):
        _sign_in(client, "op", "wrong-password")
    assert not AuditEntry.objects.filter(action="account.lockout").exists()


def test_one_address_trying_many_usernames_is_locked_out(client, operator):
    for n in range(5):
        _sign_in(client, f"guess-{n}", "wrong-password", address="10.0.0.7")
    # A real user from that address is refused; the same user elsewhere is not.
    assert _sign_in(client, "op", "pw-op", address="10.0.0.7").status_code == 429
    assert _sign_in(client, "op", "pw-op", address="10.0.0.8").status_code == 302


def test_one_username_tried_from_many_addresses_is_locked_out(client, operator):
    for n in range(5):
        _sign_in(client, "op", "wrong-password", address=f"10.0.1.{n}")
    assert _sign_in(client, "op", "pw-op", address="10.0.2.1").status_code == 429


def test_a_successful_sign_in_clears_the_count(client, operator):
    for _ in range(4):
        _sign_in(client, "op", "wrong-password")
    assert _sign_in(client, "op", "pw-op").status_code == 302
    client.logout()
    for _ in range(4):
        assert _sign_in(client, "op", "wrong-password").status_code == 200
    assert _sign_in(client, "op", "pw-op").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, operator, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    for _ in range(5):
        _sign_in(client, "op", "wrong-password")
    assert _sign_in(client, "op", "pw-op").status_code == 429
    time.sleep(1.2)
    assert _sign_in(client, "op", "pw-op").status_code == 302


def test_a_forwarded_for_header_is_not_believed_unless_configured(client, operator):
    # A client cannot escape the address lockout by inventing X-Forwarded-For values.
    for n in range(5):
        _sign_in(client, f"guess-{n}", "wrong", address="10.0.0.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert (
        _sign_in(client, "op", "pw-op", address="10.0.0.7", HTTP_X_FORWARDED_FOR="192.0.2.200").status_code
        == 429
    )


def test_behind_a_proxy_the_configured_header_names_the_client(client, settings, db):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    user_in_groups("other", OPERATORS, password="pw-other")
    proxy = "10.9.9.9"
    for n in range(5):
        # The right-most entry is what our proxy appended; the left one is the client's claim.
        _sign_in(
            client, f"guess-{n}", "wrong", address=proxy, HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 198.51.100.1"
        )
    assert (
        _sign_in(client, "other", "pw-other", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code
        == 429
    )
    # Another client behind the same proxy is not locked out with it.
    assert (
        _sign_in(client, "other", "pw-other", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code
        == 302
    )


def test_the_sign_in_page_itself_still_renders_for_a_locked_out_address(client, operator):
    for _ in range(5):
        _sign_in(client, "op", "wrong")
    assert client.get(reverse("accounts-login"), REMOTE_ADDR="10.0.0.1").status_code == 200


def test_a_username_longer_than_any_account_is_a_failed_sign_in_and_still_counts(client, operator):
    long_name = "op" + "x" * 5000  # past axes' 255-character column (a DataError on PostgreSQL)
    for _ in range(4):
        assert _sign_in(client, long_name, "wrong-password").status_code == 200
    assert _sign_in(client, long_name, "wrong-password").status_code == 429
