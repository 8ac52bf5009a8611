from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # Operations first: /healthz and /metrics answer without a login (twinadmin.ops).
    path("", include("twinadmin.ops.urls")),
    path("", include("twinadmin.registry.urls")),
    path("jobs/", include("twinadmin.jobs.urls")),
    path("search/", include("twinadmin.search.urls")),
    path("migrations/", include("migrations_app.urls")),
    path("audit/", include("twinadmin.audit.urls")),
    path("erasure/", include("twinadmin.erasure.urls")),
    path("drills/", include("twinadmin.drills.urls")),
    path("accounts/", include("twinadmin.accounts.urls")),
    path("api/", include("twinadmin.api.urls")),
    path("admin/", admin.site.urls),
]
