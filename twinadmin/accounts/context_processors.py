from django.http import HttpRequest

from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS, user_roles


def roles(request: HttpRequest) -> dict:
    have = user_roles(request.user) if hasattr(request, "user") else frozenset()
    return {
        "is_operator": OPERATORS in have,
        "is_approver": APPROVERS in have,
        "is_auditor": AUDITORS in have,
        "user_roles": sorted(have),
    }
