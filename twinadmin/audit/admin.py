from django.contrib import admin
from django.http import HttpRequest

from twinadmin.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """View only: the log is append-only, and only audit_record appends."""

    list_display = ("seq", "at", "actor", "action", "target_type", "target_id", "creator_id", "outcome")
    list_filter = ("outcome", "target_type")
    search_fields = ("=actor", "=action", "=creator_id", "=target_id")
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
