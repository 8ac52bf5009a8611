from django.contrib import admin

from twinadmin.audit.models import AuditEntry
from twinadmin.lib.admin import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """View only: the log is append-only, and only audit_record appends."""

    list_display = ("seq", "at", "actor", "action", "target_type", "target_id", "creator_id", "outcome")
    list_filter = ("outcome", "target_type")
    search_fields = ("=actor", "=action", "=creator_id", "=target_id")
    show_full_result_count = False
