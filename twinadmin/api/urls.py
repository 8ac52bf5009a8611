from django.urls import path

from twinadmin.api import views
from twinadmin.api.endpoints import api

urlpatterns = [
    path("v1/", api.urls),
    path("clients/", views.client_list, name="api-list-clients"),
    path("clients/<str:name>/revoke", views.client_revoke, name="api-revoke-client"),
    path("deliveries/", views.delivery_list, name="api-list-deliveries"),
    path("deliveries/<int:pk>/resend", views.delivery_resend, name="api-resend-delivery"),
]
