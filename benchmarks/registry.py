"""What the benchmarks need to read the stack's registry directly: it refuses anonymous requests."""

from __future__ import annotations


def registry_auth(registry: str) -> tuple[str, str] | None:
    """httpx `auth` with the service's own credentials for `registry` (host:port), if it has any."""
    from django.conf import settings

    credentials = settings.WAVE_REGISTRY_CREDENTIALS.get(registry)
    return (credentials.username, credentials.password) if credentials else None
