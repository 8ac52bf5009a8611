"""Users in Django's admin, with every change of a user's roles audited: the groups that are
roles, and the superuser, staff and active flags that widen or end what a user may do."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from twinadmin.audit.services import audit_record

User = get_user_model()
FLAGS = ("is_superuser", "is_staff", "is_active")


def _standing(pk: Any) -> dict[str, Any]:
    """What the database holds now of a user's roles and flags (empty for a new user)."""
    row = User.objects.filter(pk=pk).values(*FLAGS).first() if pk else None
    if row is None:
        return {"groups": [], **dict.fromkeys(FLAGS, False)}
    groups = sorted(User.objects.get(pk=pk).groups.values_list("name", flat=True))
    return {"groups": groups, **row}


class AuditedUserAdmin(UserAdmin):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Groups are saved after the user (save_related): read the old standing first.
        request._roles_before = _standing(obj.pk if change else None)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = getattr(request, "_roles_before", _standing(None))
        after = _standing(form.instance.pk)
        if before != after:
            audit_record(
                actor=request.user,
                action="account.roles.change",
                target_type="account",
                target_id=form.instance.get_username(),
                outcome="success",
                details={"before": before, "after": after, "created": not change},
            )


admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
