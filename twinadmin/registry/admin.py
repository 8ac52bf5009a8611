from django.contrib import admin

from twinadmin.registry.models import Creator, IndexNamespace, Twin


class TwinInline(admin.TabularInline):
    model = Twin
    extra = 0
    fields = ("twin_id", "name", "status", "naming", "legacy_namespace", "vector_count")
    readonly_fields = ("vector_count",)


@admin.register(Creator)
class CreatorAdmin(admin.ModelAdmin):
    list_display = ("creator_id", "display_name", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("creator_id", "display_name")
    inlines = [TwinInline]


@admin.register(Twin)
class TwinAdmin(admin.ModelAdmin):
    list_display = ("twin_id", "creator", "name", "status", "vector_count", "legacy_namespace")
    list_filter = ("status", "naming")
    search_fields = ("twin_id", "name", "creator__creator_id", "legacy_namespace")
    list_select_related = ("creator",)
    raw_id_fields = ("creator",)


@admin.register(IndexNamespace)
class IndexNamespaceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "creator_id", "twin_id", "vector_count", "observed_at")
    list_filter = ("kind",)
    search_fields = ("name",)
