from django.apps import AppConfig
from django.conf import settings


class LimitsConfig(AppConfig):
    name = "limits"

    def ready(self) -> None:
        from . import login_throttle  # noqa: F401  (connects its signal receiver)
        from .ratelimit import _networks

        _networks(tuple(settings.WAVE_TRUSTED_PROXIES))  # a bad entry stops the start, not a request
