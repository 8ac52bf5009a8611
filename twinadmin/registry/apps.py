from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "twinadmin.registry"
    label = "registry"
