from django.urls import path

from twinadmin.audit import views

urlpatterns = [
    path("", views.entry_list, name="audit-list-entries"),
    path("export/", views.entry_export, name="audit-export-entries"),
    path("verify/", views.chain_verify, name="audit-verify-chain"),
    path("<int:seq>/", views.entry_detail, name="audit-entry-detail"),
    # str, not uuid: a malformed id is a 400 with a message, not a bare 404.
    path("story/<str:correlation_id>/", views.story_show, name="audit-show-story"),
    path("public-key/", views.public_key, name="audit-show-public-key"),
    path("receipts/verify/", views.receipt_verify, name="audit-verify-receipt"),
]
