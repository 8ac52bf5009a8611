from django.urls import path

from twinadmin.jobs import views

urlpatterns = [
    path("", views.job_list, name="jobs-list-jobs"),
    path("<int:job_id>/", views.job_detail, name="jobs-job-detail"),
    path("<int:job_id>/cancel/", views.job_cancel_view, name="jobs-cancel-job"),
    path("<int:job_id>/retry/", views.job_retry_view, name="jobs-retry-job"),
]
