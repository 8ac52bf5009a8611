from django.apps import AppConfig


class LineageConfig(AppConfig):
    """Where every copy of a creator's vectors came from: what erasure must find again."""

    name = "twinadmin.lineage"
    label = "lineage"
