from django.urls import path

from twinadmin.search import views

urlpatterns = [
    path("", views.search_home, name="search-home"),
    path("creators/<str:creator_id>/", views.search_twins, name="search-search-twins"),
    path("latency/", views.report_list, name="search-list-reports"),
    path("latency/run/", views.report_run, name="search-run-report"),
    path("latency/compare/", views.report_compare, name="search-compare-reports"),
    path("latency/<int:report_id>/", views.report_detail, name="search-report-detail"),
]
