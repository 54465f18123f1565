from django.apps import AppConfig


class ContainersConfig(AppConfig):
    name = "containers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401 (connects the receivers)
        from .scanning import configured_scanner

        configured_scanner()  # a WAVE_SCANNER naming no backend stops the service at start, not at a request
