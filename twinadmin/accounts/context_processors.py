from collections.abc import Callable

from django.http import HttpRequest

from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS, user_roles
from twinadmin.erasure.selectors import erasure_requests_awaiting

# Which navigation entry a page belongs to, by its URL name: the first matching prefix wins, so
# the specific registry and search pages come before their app's catch-all.
_NAV_SECTIONS = (
    ("registry-overview", "index"),
    ("registry-refresh-index", "index"),
    ("registry-list-namespaces", "namespaces"),
    ("registry-register-orphan", "namespaces"),
    ("registry-list-vectors", "namespaces"),
    ("registry-vector-detail", "namespaces"),
    ("registry-drift-report", "drift"),
    ("registry-run-drift", "drift"),
    ("registry-", "creators"),
    ("search-home", "search"),
    ("search-search-twins", "search"),
    ("search-", "latency"),
    ("jobs-", "jobs"),
    ("migrations-", "migrations"),
    ("drills-", "drills"),
    ("audit-", "audit"),
    ("erasure-", "erasure"),
    ("accounts-show-two-factor", "account"),
)


def roles(request: HttpRequest) -> dict:
    have = user_roles(request.user) if hasattr(request, "user") else frozenset()
    return {
        "is_operator": OPERATORS in have,
        "is_approver": APPROVERS in have,
        "is_auditor": AUDITORS in have,
        "user_roles": sorted(have),
        "nav_section": nav_section(request),
        # A callable: the template calls it once, where the badge is drawn (base.html), so the
        # query runs only for approvers and only on full pages, never for an HTMX fragment.
        "pending_approvals": _pending_approvals(request) if APPROVERS in have else 0,
    }


def nav_section(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    if "admin" in match.namespaces:
        return "admin"
    name = match.url_name or ""
    return next((section for prefix, section in _NAV_SECTIONS if name.startswith(prefix)), "")


def _pending_approvals(request: HttpRequest) -> Callable[[], int]:
    def count() -> int:
        return erasure_requests_awaiting(approver=request.user).count()

    return count
