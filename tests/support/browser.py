"""Steps every browser test takes the same way."""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse
from playwright.sync_api import expect


def sign_in(page: Any, credentials: tuple[str, str], then: str | None = None) -> None:
    """Sign in through the form (to `then`, as a protected page's redirect would, or to the
    overview) and wait until the page after it is shown."""
    page.goto(reverse("accounts-login") + (f"?next={then}" if then else ""))
    page.fill("#id_username", credentials[0])
    page.fill("#id_password", credentials[1])
    page.click("button:has-text('Sign in')")
    if then:
        expect(page).to_have_url(re.compile(re.escape(then) + "$"))
    else:
        expect(page.locator("h1")).to_have_text("Index overview")
