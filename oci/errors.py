from __future__ import annotations


class OciError(Exception):
    """Base of every error this library raises; the message is safe to show to a client."""


class InvalidReference(OciError, ValueError):
    pass


class InvalidDigest(OciError, ValueError):
    pass


class InvalidPlatform(OciError, ValueError):
    pass


class RegistryError(OciError):
    """The registry answered, but not with what was asked for."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class NotFound(RegistryError):
    pass


class Unauthorized(RegistryError):
    pass


class RegistryUnreachable(RegistryError):
    """No answer at all: DNS, connection refused, TLS failure or timeout."""


class ForbiddenAddress(RegistryUnreachable):
    """The host resolves to an address this service must not contact (SSRF guard)."""


class InvalidDocument(RegistryError):
    """A registry's manifest, index or config that is not the JSON document it claims to be."""
