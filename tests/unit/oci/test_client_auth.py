"""The client's auth logic against a fake registry (httpx MockTransport: the one seam faked)."""

import asyncio
import base64
import json

import httpx
import pytest

from oci.auth import Credentials, TokenCache, parse_challenge
from oci.client import RegistryClient, registry_base_url
from oci.digest import sha256_digest
from oci.errors import NotFound, RegistryUnreachable, Unauthorized

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}).encode()
CREDS = Credentials("bob", "hunter2-secret")


class FakeRegistry:
    """A registry at https://reg.test with a token service at https://reg.test/token."""

    def __init__(self, scheme="bearer", reject_tokens=0, throttle=0):
        self.scheme, self.reject_tokens, self.throttle = scheme, reject_tokens, throttle
        self.calls: list[httpx.Request] = []
        self.issued = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        auth = request.headers.get("authorization", "")
        if request.url.host == "cdn.test":
            return httpx.Response(200, content=b"blob-bytes")
        if request.url.path == "/v2/":
            challenge = 'Bearer realm="https://reg.test/token",service="reg.test"' if self.scheme == "bearer" else 'Basic realm="x"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if request.url.path == "/token":
            expected = "Basic " + base64.b64encode(b"bob:hunter2-secret").decode()
            if auth != expected:
                return httpx.Response(401)
            assert request.url.params["scope"] == "repository:team/app:pull"
            assert request.url.params["service"] == "reg.test"
            self.issued += 1
            return httpx.Response(200, json={"token": f"tok{self.issued}", "expires_in": 300})
        if self.throttle:
            self.throttle -= 1
            return httpx.Response(429, headers={"Retry-After": "0"})
        if self.scheme == "bearer":
            if not auth.startswith("Bearer ") or self.issued <= self.reject_tokens:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://reg.test/token"'})
        elif auth != "Basic " + base64.b64encode(b"bob:hunter2-secret").decode():
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="x"'})
        if request.url.path.endswith("/manifests/missing"):
            return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
        if "/blobs/" in request.url.path:
            return httpx.Response(307, headers={"Location": "https://cdn.test/blob"})
        return httpx.Response(200, content=MANIFEST, headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def client(fake: FakeRegistry, credentials=CREDS) -> RegistryClient:
    return RegistryClient("reg.test", credentials, transport=httpx.MockTransport(fake.handler), token_cache=TokenCache())


def run(coro):
    return asyncio.run(coro)


def test_it_fetches_a_bearer_token_once_and_reuses_it():
    fake = FakeRegistry()

    async def go():
        async with client(fake) as c:
            first = await c.get_manifest("team/app", "v1")
            await c.get_manifest("team/app", "v2")
            return first

    manifest = run(go())
    assert manifest.digest == sha256_digest(MANIFEST)
    assert fake.issued == 1
    assert [r.url.path for r in fake.calls].count("/v2/") == 1


def test_a_401_is_retried_once_with_a_fresh_token():
    fake = FakeRegistry(reject_tokens=1)
    run(client(fake).get_manifest("team/app", "v1"))
    assert fake.issued == 2


def test_429_is_retried_with_backoff():
    fake = FakeRegistry(throttle=2)
    manifest = run(client(fake).get_manifest("team/app", "v1"))
    assert manifest.raw == MANIFEST
    assert sum(1 for r in fake.calls if r.url.path.endswith("/manifests/v1")) == 3


def test_basic_auth_registries_get_the_credentials_directly():
    fake = FakeRegistry(scheme="basic")
    assert run(client(fake).get_manifest("team/app", "v1")).raw == MANIFEST
    assert fake.issued == 0


def test_missing_credentials_give_unauthorized_without_leaking_secrets():
    fake = FakeRegistry()
    with pytest.raises(Unauthorized) as err:
        run(client(fake, credentials=None).get_manifest("team/app", "v1"))
    assert "requires credentials" in str(err.value)
    with pytest.raises(Unauthorized) as err:
        run(client(fake, Credentials("bob", "wrong-password")).get_manifest("team/app", "v1"))
    assert "wrong-password" not in str(err.value) and "refused the credentials" in str(err.value)


def test_not_found_is_its_own_error():
    with pytest.raises(NotFound, match="manifest 'team/app:missing' was not found"):
        run(client(FakeRegistry()).get_manifest("team/app", "missing"))


def test_the_authorization_header_never_follows_a_redirect_to_another_host():
    fake = FakeRegistry()

    async def go():
        async with client(fake) as c:
            return await c.get_blob("team/app", sha256_digest(b"blob-bytes"))

    assert run(go()) == b"blob-bytes"
    cdn = [r for r in fake.calls if r.url.host == "cdn.test"]
    assert cdn and "authorization" not in cdn[0].headers


def test_connection_failures_say_the_registry_is_unreachable():
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    c = RegistryClient("reg.test", transport=httpx.MockTransport(refuse), token_cache=TokenCache())
    with pytest.raises(RegistryUnreachable, match="Registry 'reg.test' is unreachable: connection refused"):
        run(c.get_manifest("team/app", "v1"))


def test_loopback_and_insecure_registries_use_http():
    assert registry_base_url("localhost:5555") == "http://localhost:5555"
    assert registry_base_url("127.0.0.1:5001") == "http://127.0.0.1:5001"
    assert registry_base_url("[::1]:5000") == "http://[::1]:5000"
    assert registry_base_url("docker.io") == "https://registry-1.docker.io"
    assert registry_base_url("reg.internal:5000", {"reg.internal:5000"}) == "http://reg.internal:5000"
    assert registry_base_url("quay.io") == "https://quay.io"


def test_challenges_are_parsed():
    challenge = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="a,b"')
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.service == "registry.docker.io"
    assert challenge.params["scope"] == "a,b"
