from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "twinadmin.api"
    label = "api"
    verbose_name = "API for the product"
