from django.apps import AppConfig


class VectorsConfig(AppConfig):
    name = "twinadmin.vectors"
    label = "vectors"
