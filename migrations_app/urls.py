from django.urls import path

from migrations_app import views

urlpatterns = [
    path("", views.run_list, name="migrations-list-runs"),
    path("discover/", views.discover, name="migrations-discover-namespaces"),
    path("new/", views.run_new, name="migrations-create-run"),
    path("runs/<int:run_id>/", views.run_detail, name="migrations-run-detail"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="migrations-cancel-run"),
    path("runs/<int:run_id>/resume/", views.run_resume, name="migrations-resume-run"),
    path("runs/<int:run_id>/rollback/", views.run_rollback, name="migrations-rollback-run"),
]
