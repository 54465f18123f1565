"""Which token realms may receive a registry's stored credentials, as distribution's `realmAllowed`
(GHSA-3p65-76g6-3w7r): the registry's own host and port, or a host of the same registrable domain
(`auth.docker.io` for `registry-1.docker.io`), never an IP literal or `localhost` other than the
registry itself, and never over plain HTTP when the registry is spoken to over HTTPS.

A realm elsewhere still gets the token request, without credentials: a public image there keeps
working with an anonymous token, a private one is refused by its registry.

The registrable domain (eTLD+1) comes from the Public Suffix List that Debian's `publicsuffix`
package installs, so that `a.github.io` and `b.github.io` are two domains. Without that file only
the registry's own host is trusted.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from urllib.parse import urljoin, urlsplit

PUBLIC_SUFFIX_LIST = Path("/usr/share/publicsuffix/public_suffix_list.dat")


class _Rules:
    def __init__(self, text: str) -> None:
        self.exact: set[str] = set()
        self.wildcard: set[str] = set()  # `*.ck` kept as `ck`
        self.exception: set[str] = set()  # `!www.ck` kept as `www.ck`
        for line in text.splitlines():
            rule = line.strip().split(" ")[0].lower()
            if not rule or rule.startswith("//"):
                continue
            kind = self.exact
            if rule.startswith("!"):
                kind, rule = self.exception, rule[1:]
            elif rule.startswith("*."):
                kind, rule = self.wildcard, rule[2:]
            if not rule.isascii():
                try:
                    rule = rule.encode("idna").decode("ascii")  # hosts arrive in their ASCII form
                except UnicodeError:
                    continue
            kind.add(rule)

    def public_suffix(self, labels: list[str]) -> int:
        """How many labels of `labels` the longest matching rule makes public (`*` when none does)."""
        for i in range(len(labels)):
            name = ".".join(labels[i:])
            if name in self.exception:
                return len(labels) - i - 1
            if name in self.exact or (i + 1 < len(labels) and ".".join(labels[i + 1 :]) in self.wildcard):
                return len(labels) - i
        return 1


@functools.cache
def _rules(path: Path) -> _Rules | None:
    try:
        return _Rules(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def registrable_domain(host: str, path: Path = PUBLIC_SUFFIX_LIST) -> str | None:
    """`example.co.uk` for `auth.example.co.uk`; None for a public suffix itself, or without the list."""
    rules = _rules(path)
    labels = host.lower().rstrip(".").split(".")
    if rules is None or not all(labels):
        return None
    public = rules.public_suffix(labels)
    return ".".join(labels[-public - 1 :]) if len(labels) > public else None


def _literal_or_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _endpoint(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)


def realm_allowed(registry_url: str, realm: str) -> bool:
    """May the credentials for the registry at `registry_url` (scheme and authority) go to `realm`?"""
    try:
        scheme, host, port = _endpoint(registry_url)
        realm_scheme, realm_host, realm_port = _endpoint(urljoin(registry_url, realm))  # relative: the registry
    except ValueError:  # a port that is not a number
        return False
    if not realm_host or realm_scheme not in ("http", "https"):
        return False
    if scheme == "https" and realm_scheme != "https":
        return False
    if (host, port) == (realm_host, realm_port):
        return True
    if _literal_or_local(host) or _literal_or_local(realm_host):
        return False
    domain = registrable_domain(host)
    return domain is not None and domain == registrable_domain(realm_host)
