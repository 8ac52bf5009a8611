from django.contrib import admin

from twinadmin.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress_done", "progress_total", "created_at", "finished_at")
    list_filter = ("kind", "status")
