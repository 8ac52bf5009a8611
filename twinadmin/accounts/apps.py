from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "twinadmin.accounts"
    label = "accounts"
