from django.contrib import admin

from twinadmin.jobs.models import Job
from twinadmin.lib.admin import ReadOnlyAdmin


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Jobs change only through twinadmin.jobs.services (claims, leases, results)."""

    list_display = ("id", "kind", "status", "progress_done", "progress_total", "created_at", "finished_at")
    list_filter = ("kind", "status")
