from django.contrib import admin

from twinadmin.lib.admin import ReadOnlyAdmin, ReadOnlyInline
from twinadmin.registry.models import Creator, IndexNamespace, Twin

# Read-only: creators and twins change through twinadmin.registry.services, which audits them.


class TwinInline(ReadOnlyInline):
    model = Twin
    fields = ("twin_id", "name", "status", "naming", "legacy_namespace", "vector_count")
    readonly_fields = ("vector_count",)


@admin.register(Creator)
class CreatorAdmin(ReadOnlyAdmin):
    list_display = ("creator_id", "display_name", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("creator_id", "display_name")
    inlines = [TwinInline]


@admin.register(Twin)
class TwinAdmin(ReadOnlyAdmin):
    list_display = ("twin_id", "creator", "name", "status", "vector_count", "legacy_namespace")
    list_filter = ("status", "naming")
    search_fields = ("twin_id", "name", "creator__creator_id", "legacy_namespace")
    list_select_related = ("creator",)
    raw_id_fields = ("creator",)


@admin.register(IndexNamespace)
class IndexNamespaceAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "creator_id", "twin_id", "vector_count", "observed_at")
    list_filter = ("kind",)
    search_fields = ("name",)
