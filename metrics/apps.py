from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from prometheus_client.core import REGISTRY

        from .prometheus import BuildCollector

        REGISTRY.register(BuildCollector())
