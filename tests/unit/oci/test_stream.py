"""The aiohttp blob streamer: the registry's auth stays home, the SSRF policy holds, errors are typed."""

from __future__ import annotations

import asyncio
import http.server
import threading

import pytest

from oci.auth import TokenCache
from oci.client import RegistryClient
from oci.errors import ForbiddenAddress, NotFound
from oci.netguard import AddressPolicy, tls_context
from oci.stream import BlobStreamer

BLOB = b"x" * 300_000


class Handler(http.server.BaseHTTPRequestHandler):
    """`/v2/` asks for Basic auth; the blob redirects to the same server under another name."""

    seen: list[tuple[str, str, str | None]] = []

    def do_GET(self):
        port = self.server.server_address[1]
        Handler.seen.append((self.headers["Host"], self.path, self.headers.get("Authorization")))
        if self.path == "/v2/":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
        elif self.path.endswith("/blobs/sha256:" + "3" * 64):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{port}/cdn/blob")
            self.send_header("Content-Length", "0")
        elif self.path.endswith("/blobs/sha256:" + "1" * 64):
            self.send_response(307)
            self.send_header("Location", f"http://localhost:{port}/cdn/blob")
            self.send_header("Content-Length", "0")
        elif self.path == "/cdn/blob":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB)
            return
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def fetch(port: int, digest: str, allowed: list[str]) -> bytes:
    from oci.auth import Credentials

    async def go():
        client = RegistryClient(f"127.0.0.1:{port}", Credentials("bob", "secret-pw"), token_cache=TokenCache())
        streamer = BlobStreamer(AddressPolicy(allowed), tls_context(), 10)
        try:
            response = await streamer.open(client, "team/app", digest, None)
            return b"".join([chunk async for chunk in response.chunks()])
        finally:
            await streamer._session.close()
            await client.aclose()

    return asyncio.run(go())


def test_a_redirect_to_another_host_is_followed_without_the_registrys_authorization(port):
    Handler.seen.clear()
    assert fetch(port, "sha256:" + "1" * 64, ["127.0.0.1", "localhost"]) == BLOB
    registry = [auth for host, path, auth in Handler.seen if path.endswith("1" * 64)]
    cdn = [auth for host, path, auth in Handler.seen if path == "/cdn/blob"]
    assert registry and registry[0].startswith("Basic ")
    assert cdn == [None]


def test_a_redirect_target_on_a_forbidden_address_is_refused(port):
    with pytest.raises(ForbiddenAddress, match="Host 'localhost' resolves to 127.0.0.1"):
        fetch(port, "sha256:" + "1" * 64, ["127.0.0.1"])


def test_a_missing_blob_is_not_found(port):
    with pytest.raises(NotFound):
        fetch(port, "sha256:" + "2" * 64, ["127.0.0.1"])


def test_a_redirect_to_a_forbidden_ip_address_is_refused(port):
    """aiohttp connects to IP literals without its resolver; the streamer checks them itself."""
    with pytest.raises(ForbiddenAddress, match="Host '127.0.0.2' resolves to 127.0.0.2"):
        fetch(port, "sha256:" + "3" * 64, ["127.0.0.1"])
