from django.contrib import admin

from migrations_app.models import MigrationItem, NamespaceBackup, NamespaceMigration


class MigrationItemInline(admin.TabularInline):
    model = MigrationItem
    extra = 0
    can_delete = False
    fields = (
        "position",
        "source_namespace",
        "target_namespace",
        "action",
        "step",
        "copied",
        "total",
        "verified",
    )
    readonly_fields = fields


@admin.register(NamespaceMigration)
class NamespaceMigrationAdmin(admin.ModelAdmin):
    list_display = ("id", "creator_id", "status", "phase", "attempt", "created_at", "finished_at")
    list_filter = ("status", "phase")
    search_fields = ("creator_id",)
    inlines = [MigrationItemInline]
    readonly_fields = [f.name for f in NamespaceMigration._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(NamespaceBackup)
class NamespaceBackupAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "creator_id",
        "source_namespace",
        "status",
        "vector_count",
        "size_bytes",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("creator_id", "source_namespace")
    readonly_fields = [f.name for f in NamespaceBackup._meta.fields]

    def has_add_permission(self, request):
        return False
