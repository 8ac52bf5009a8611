"""Playwright (sync API) driving Debian's Chromium. Never `playwright install`: nothing is
downloaded; the browser is the system package (.ci/run installs it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.users import user_in_groups
from twinadmin.accounts.roles import OPERATORS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # The sync API keeps an asyncio loop on this thread, so Django's ORM would refuse to run
    # here ("cannot call this from an async context"). Nothing async touches the ORM in these
    # tests: the loop only drives the browser. Restored when the package is done.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the live server. Page errors, console errors and
    failed responses are collected on `page.problems`: a smoke test asserts there are none."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        # "Failed to load resource" repeats a failed response without its URL (the response
        # handler reports it), and Chromium always asks for a favicon the app does not serve.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console: {msg.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"HTTP {response.status} {response.url}")

    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)
    page.problems = problems
    yield page
    context.close()


@pytest.fixture
def operator_login(transactional_db: None) -> tuple[str, str]:
    """Username and password of an operator. The group is fetched or created: an earlier
    transactional test's flush empties the groups the data migration made."""
    username, password = "browser-op", "browser-pw-2f7c"
    user_in_groups(username, OPERATORS, password=password)
    return username, password


@pytest.fixture
def screenshot(page: Any) -> Any:
    """`screenshot("name")` writes a full-page PNG of what the browser shows now (the `page`
    fixture's, or `of=` another page) to $TWINADMIN_SCREENSHOT_DIR/name.png, for a reviewer to
    look at; without the variable it does nothing. Returns the path written, or None."""
    folder = os.environ.get("TWINADMIN_SCREENSHOT_DIR")

    def take(name: str, of: Any = None) -> Path | None:
        if not folder:
            return None
        path = Path(folder) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        (of or page).screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Jobs handed to the workers. Kept here instead of sent to a broker (the default filesystem
    broker lives in the checkout's var/, where a `make run` worker would pick them up): the test
    runs them in this process, as the worker task does."""
    from twinadmin.jobs.tasks import run_job, run_resumable_job

    ids: list[int] = []
    monkeypatch.setattr(run_resumable_job, "delay", lambda job_id: ids.append(job_id))
    monkeypatch.setattr(run_resumable_job, "apply_async", lambda args, **_: ids.append(args[0]))
    monkeypatch.setattr(run_job, "delay", lambda job_id: ids.append(job_id))
    return ids
