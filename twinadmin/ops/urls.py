from django.urls import path

from twinadmin.ops import views

urlpatterns = [
    path("healthz", views.healthz, name="ops-show-health"),
    path("metrics", views.metrics, name="ops-show-metrics"),
]
