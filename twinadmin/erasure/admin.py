from django.contrib import admin

from twinadmin.erasure.models import ErasureRequest, TwinDeletion


class ReadOnlyAdmin(admin.ModelAdmin):
    """Erasure rows change only through their services, which audit every step."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
