"""Two-factor sign-in in a real browser: set up an authenticator from the QR page (the SVG drawn
inline under the CSP), confirm it with a code, sign out, and sign in again with password and code.
Codes are computed with django-otp's TOTP from the key the page shows, as an app would."""

from __future__ import annotations

import base64
import re
import time

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(secret: str, steps_ahead: int = 0) -> str:
    plain = secret.replace(" ", "")
    key = base64.b32decode(plain + "=" * (-len(plain) % 8))
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def test_set_up_then_sign_in_with_password_and_code(page, operator_login, screenshot):
    violations: list[str] = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
    sign_in(page, operator_login)
    page.get_by_role("link", name="Two-factor").click()
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#two-factor-secret").inner_text()
    screenshot("two-factor-setup")
    page.fill("input[name=code]", _code(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#two-factor-status")).to_contain_text("On:")

    page.get_by_role("button", name="Sign out").click()
    page.goto(reverse("registry-list-creators"))
    page.fill("#id_username", operator_login[0])
    page.fill("#id_password", operator_login[1])
    page.click("button:has-text('Sign in')")
    expect(page.locator("h1")).to_have_text("Sign-in code")
    # The code used to confirm is spent: the app's next one is accepted.
    page.fill("input[name=code]", _code(secret, steps_ahead=1))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("registry-list-creators")) + "$"))
    expect(page.locator("h1")).to_have_text("Creators")
    assert violations == [] and page.problems == []
