from django.urls import path

from twinadmin.registry import views

urlpatterns = [
    path("", views.overview, name="registry-overview"),
    path("namespaces/", views.namespace_list, name="registry-list-namespaces"),
    path("vectors/", views.vector_list, name="registry-list-vectors"),
    path("vectors/vector/", views.vector_detail, name="registry-vector-detail"),
    path("index/refresh/", views.index_refresh, name="registry-refresh-index"),
    path("drift/", views.drift_report, name="registry-drift-report"),
    path("drift/run/", views.drift_run, name="registry-run-drift"),
    path("drift/register/", views.orphan_register, name="registry-register-orphan"),
    path("creators/", views.creator_list, name="registry-list-creators"),
    path("creators/new/", views.creator_new, name="registry-create-creator"),
    path("creators/<str:creator_id>/", views.creator_detail, name="registry-creator-detail"),
    path("creators/<str:creator_id>/twins/new/", views.twin_new, name="registry-create-twin"),
    path("creators/<str:creator_id>/twins/<str:twin_id>/", views.twin_detail, name="registry-twin-detail"),
]
