from django.urls import path

from twinadmin.drills import views

urlpatterns = [
    path("", views.drill_list, name="drills-list-runs"),
    path("run/", views.drill_run, name="drills-run-drill"),
    path("decision/", views.decision, name="drills-decision"),
    path("decision/keep/", views.decision_keep, name="drills-decision-keep"),
    path("decision/start-fresh/", views.decision_start_fresh, name="drills-decision-start-fresh"),
]
