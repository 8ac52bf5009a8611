from django.contrib import admin

from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.lib.admin import ReadOnlyAdmin


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "creator_id", "status", "requested_by_name", "approved_by_name", "requested_at")
    list_filter = ("status",)
    search_fields = ("creator_id", "ticket_reference")


@admin.register(TwinDeletion)
class TwinDeletionAdmin(ReadOnlyAdmin):
    list_display = ("id", "namespace", "status", "requested_by_name", "created_at")
    list_filter = ("status",)
    search_fields = ("creator_id", "twin_id")
