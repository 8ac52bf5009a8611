from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "twinadmin.jobs"
    label = "jobs"
