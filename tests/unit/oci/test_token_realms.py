"""Stored credentials go to a token realm only on the registry's own host or registrable domain.

A registry's `WWW-Authenticate: Bearer realm=...` names where the client asks for a token, with the
stored username and password as Basic auth. A hostile (or compromised) registry naming a realm it
does not share a domain with would collect them: such a realm gets an anonymous token request.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import threading

import httpx
import pytest

from oci.auth import Credentials, TokenCache
from oci.client import RegistryClient
from oci.errors import Unauthorized
from oci.netguard import AddressPolicy, guarded_transport
from oci.realm import PUBLIC_SUFFIX_LIST, realm_allowed, registrable_domain

CREDS = Credentials("bob", "hunter2-secret")
BASIC = "Basic " + base64.b64encode(b"bob:hunter2-secret").decode()
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}).encode()


class Registry:
    """A registry at `registry` whose challenge names `realm`; the realm grants anonymous tokens
    only when `anonymous` is true. Records what each token request carried."""

    def __init__(self, registry: str, realm: str, anonymous: bool = True):
        self.registry, self.realm, self.anonymous = registry, realm, anonymous
        self.token_requests: list[tuple[str, str | None]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{self.realm}",service="s"'})
        if request.url.path == httpx.URL(self.realm).path:
            auth = request.headers.get("authorization")
            self.token_requests.append((request.url.host, auth))
            if auth is None and not self.anonymous:
                return httpx.Response(401)
            return httpx.Response(200, json={"token": "anonymous" if auth is None else "granted"})
        if request.headers.get("authorization") not in ("Bearer anonymous", "Bearer granted"):
            return httpx.Response(401)
        return httpx.Response(200, content=MANIFEST, headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})

    def pull(self) -> None:
        client = RegistryClient(self.registry, CREDS, transport=httpx.MockTransport(self.handler), token_cache=TokenCache())
        asyncio.run(client.get_manifest("team/app", "latest"))


@pytest.mark.parametrize(
    "registry, realm",
    [
        ("reg.example.com", "https://collector.example.net/token"),  # another domain
        ("a.github.io", "https://b.github.io/token"),  # two sites under one public suffix
        ("reg.example.com", "http://auth.example.com/token"),  # the right domain, but in clear text
        ("reg.example.com", "https://10.0.0.1/token"),  # an address, not the registry's
        ("reg.example.com", "https://localhost/token"),
    ],
)
def test_a_realm_outside_the_registrys_domain_gets_no_credentials(registry, realm):
    fake = Registry(registry, realm)
    fake.pull()  # a public image still comes, with an anonymous token
    assert fake.token_requests == [(httpx.URL(realm).host, None)]


@pytest.mark.parametrize(
    "registry, realm",
    [
        ("registry-1.docker.io", "https://auth.docker.io/token"),  # Docker Hub
        ("registry.gitlab.com", "https://gitlab.com/jwt/auth"),
        ("ghcr.io", "https://ghcr.io/token"),
        ("reg.example.co.uk", "https://auth.example.co.uk/token"),
        ("reg.example.com", "/token"),  # relative: the registry itself
    ],
)
def test_a_realm_of_the_registrys_own_domain_gets_the_credentials(registry, realm):
    fake = Registry(registry, realm)
    fake.pull()
    assert fake.token_requests == [(httpx.URL(f"https://{registry}").join(realm).host, BASIC)]


def test_a_private_image_behind_a_foreign_realm_is_refused_saying_why():
    fake = Registry("reg.example.com", "https://collector.example.net/token", anonymous=False)
    with pytest.raises(Unauthorized) as refused:
        fake.pull()
    message = str(refused.value)
    assert message == (
        "Registry 'reg.example.com' sends its token requests to 'collector.example.net', outside its own domain: "
        "the stored credentials are not sent there, and it refused an anonymous token for 'repository:team/app:pull'"
    )
    assert "hunter2" not in message and fake.token_requests == [("collector.example.net", None)]


def test_registrable_domains_follow_the_public_suffix_list():
    assert PUBLIC_SUFFIX_LIST.exists(), "scripts/stack installs Debian's publicsuffix"
    assert registrable_domain("auth.docker.io") == "docker.io"
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("a.github.io") == "a.github.io"  # a private suffix of the list
    assert registrable_domain("x.y.ck") == "x.y.ck" and registrable_domain("www.ck") == "www.ck"  # *.ck, !www.ck
    assert registrable_domain("co.uk") is None and registrable_domain("github.io") is None


def test_without_the_list_only_the_registrys_own_host_is_trusted(tmp_path):
    assert registrable_domain("auth.docker.io", tmp_path / "missing.dat") is None
    assert realm_allowed("https://ghcr.io", "https://ghcr.io/token")


class TokenServer(http.server.BaseHTTPRequestHandler):
    """One loopback server answering for two names: the registry's and the realm's (from `Host`)."""

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/v2/":
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://{self.server.realm_host}:{port}/token",service="s"')
            body = b""
        elif self.path.startswith("/token"):
            self.server.token_requests.append((self.headers["Host"].split(":")[0], self.headers.get("Authorization")))
            self.send_response(200)
            body = b'{"token": "t"}'
        elif self.headers.get("Authorization") == "Bearer t":
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            body = MANIFEST
        else:
            self.send_response(401)
            body = b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def token_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


class LoopbackOnly(AddressPolicy):
    """The guard with loopback allowed, so that two made-up names can reach the test's server."""

    def check(self, host, port, addresses):
        assert addresses == ["127.0.0.1"], addresses


@pytest.mark.parametrize("realm_host, sent", [("auth.wave.test", BASIC), ("collector.elsewhere.test", None)])
def test_over_the_network_only_a_realm_of_the_same_domain_receives_the_credentials(token_server, realm_host, sent):
    async def resolver(host, port):
        assert host.endswith(".test")
        return ["127.0.0.1"]

    token_server.realm_host, token_server.token_requests = realm_host, []
    registry = f"registry.wave.test:{token_server.server_address[1]}"
    client = RegistryClient(
        registry, CREDS, insecure={registry}, transport=guarded_transport(LoopbackOnly(), resolver), token_cache=TokenCache()
    )
    assert asyncio.run(client.get_manifest("team/app", "latest")).raw == MANIFEST
    assert token_server.token_requests == [(realm_host, sent)]
