"""A badge's colour means one thing on every page: green done, red failed, amber waiting, grey
neutral. Stated in general: every stored status, kind, step and audit outcome, and every badge
class a template writes literally, has exactly one of the four meanings in app.css."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps
from django.conf import settings

CSS = Path(settings.BASE_DIR) / "static" / "css" / "app.css"
TEMPLATES = Path(settings.BASE_DIR) / "templates"
MEANINGS = {"--ok-bg": "success", "--bad-bg": "failure", "--warn-bg": "waiting", "--neutral-bg": "neutral"}
BADGE_FIELDS = ("status", "kind", "step")


def _meanings() -> dict[str, set[str]]:
    """badge class -> the meanings app.css gives it (a rule's background says which)."""
    found: dict[str, set[str]] = {}
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        background = re.search(r"background:\s*var\((--[\w-]+)\)", body)
        if not background or background.group(1) not in MEANINGS:
            continue
        for cls in re.findall(r"^\s*\.badge\.([\w-]+)\s*$", selectors.replace(",", "\n"), re.M):
            found.setdefault(cls, set()).add(MEANINGS[background.group(1)])
    return found


def _stored_values() -> set[str]:
    values = set()
    for model in apps.get_models():
        for field in model._meta.fields:
            if field.choices and field.name in BADGE_FIELDS:
                values |= {str(value) for value, _ in field.choices}
            if field.choices and field.name == "outcome":  # audit entries: outcome-<value>
                values |= {f"outcome-{value}" for value, _ in field.choices}
    return values


def _literal_template_classes() -> set[str]:
    classes = set()
    for path in TEMPLATES.rglob("*.html"):
        for attr in re.findall(r'class="badge ([^"{]+)"', path.read_text()):
            classes |= set(attr.split())
    return classes - {"nav-count"}


def test_every_stored_value_has_exactly_one_meaning():
    meanings = _meanings()
    values = _stored_values()
    assert {"pending", "failed", "deleted", "not_found", "outcome-intent", "legacy-uuid"} <= values

    assert {v: meanings.get(v, set()) for v in values if len(meanings.get(v, set())) != 1} == {}


def test_every_badge_class_a_template_writes_has_exactly_one_meaning():
    meanings = _meanings()
    classes = _literal_template_classes()

    assert {c: meanings.get(c, set()) for c in classes if len(meanings.get(c, set())) != 1} == {}


def test_the_choices_made_where_the_meaning_was_not_obvious():
    meanings = _meanings()

    # A deletion's intended end is success, also when the namespace was already gone.
    assert meanings["deleted"] == meanings["not_found"] == meanings["erased"] == {"success"}
    # Decisions and normal states are not failures.
    assert meanings["rejected"] == meanings["cancelled"] == meanings["active"] == {"neutral"}
    # Approved is queued, an unowned namespace waits for a person; an intent in the log is a
    # record (the story page says whether its step is still pending).
    assert meanings["approved"] == meanings["unknown"] == {"waiting"}
    assert meanings["outcome-intent"] == {"neutral"}
