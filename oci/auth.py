"""Registry authentication: challenge parsing, credentials and a bearer token cache."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """Identifies the credentials in cache keys without holding the secret itself."""
        return hashlib.sha256(f"{self.username}\0{self.password}".encode()).hexdigest()[:16]


def basic_auth_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer", "basic" or "" when the registry asks for nothing
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")


NO_AUTH = Challenge("")


def parse_challenge(header: str | None) -> Challenge:
    """Parse a `WWW-Authenticate` header such as `Bearer realm="https://auth",service="reg"`."""
    if not header:
        return NO_AUTH
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


class TokenCache:
    """Bearer tokens per (registry, scope, credentials), kept until shortly before they expire."""

    MARGIN = 10.0  # seconds before expiry at which a token is no longer handed out

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            hit = self._tokens.get(key)
            if hit and hit[1] - self.MARGIN > time.monotonic():
                return hit[0]
            self._tokens.pop(key, None)
            return None

    def put(self, key: tuple[str, str, str], token: str, expires_in: float) -> None:
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires_in, self.MARGIN + 1))


DEFAULT_TOKEN_CACHE = TokenCache()
