from django.urls import path

from twinadmin.erasure import views

urlpatterns = [
    path("", views.request_list, name="erasure-list-requests"),
    path("creators/<str:creator_id>/request/", views.request_new, name="erasure-create-request"),
    path(
        "creators/<str:creator_id>/twins/<str:twin_id>/delete/", views.twin_delete, name="erasure-delete-twin"
    ),
    path("twin-deletions/<int:pk>/", views.twin_deletion_detail, name="erasure-twin-deletion-detail"),
    path("requests/<int:pk>/", views.request_detail, name="erasure-request-detail"),
    path("requests/<int:pk>/approve/", views.request_approve, name="erasure-approve-request"),
    path("requests/<int:pk>/reject/", views.request_reject, name="erasure-reject-request"),
    path("requests/<int:pk>/retry/", views.request_retry, name="erasure-retry-request"),
    path("requests/<int:pk>/receipt/", views.request_receipt, name="erasure-request-receipt"),
    path("requests/<int:pk>/receipt.json", views.request_receipt_json, name="erasure-download-receipt"),
]
