from django.contrib.auth import views as auth_views
from django.urls import path

from twinadmin.accounts import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="accounts-login"),
    path("login/code/", views.verify_login, name="accounts-verify-login"),
    path("logout/", auth_views.LogoutView.as_view(), name="accounts-logout"),
    path("two-factor/", views.show_two_factor, name="accounts-show-two-factor"),
    path("two-factor/begin/", views.begin_two_factor, name="accounts-begin-two-factor"),
    path("two-factor/confirm/", views.confirm_two_factor, name="accounts-confirm-two-factor"),
    path("two-factor/remove/", views.remove_two_factor, name="accounts-remove-two-factor"),
]
