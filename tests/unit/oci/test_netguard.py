"""The SSRF guard: addresses checked after resolution, at connect time, names included."""

import asyncio
import http.server
import threading

import httpx
import pytest

from oci.auth import TokenCache
from oci.client import RegistryClient
from oci.errors import ForbiddenAddress
from oci.netguard import AddressPolicy, guarded_transport, is_forbidden_address


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.5.5.5", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "0.0.0.0",
     "::1", "::", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "100.64.0.1", "224.0.0.1",
     # IPv4 inside IPv6: NAT64 (metadata, private), local-use NAT64, 6to4, IPv4-compatible, SIIT, Teredo
     "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b:1::808:808", "2002:a9fe:a9fe::1", "2002:7f00:1::",
     "::a9fe:a9fe", "::7f00:1", "::ffff:0:a9fe:a9fe", "2001:0:a00:1::1"],
)
def test_non_global_addresses_are_forbidden(address):
    assert is_forbidden_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"])
def test_global_addresses_are_allowed(address):
    assert not is_forbidden_address(address)


def test_the_allow_list_takes_hosts_or_host_ports():
    policy = AddressPolicy(["localhost:5555", "registry.internal"])
    assert policy.host_allowed("localhost", 5555) and not policy.host_allowed("localhost", 5556)
    assert policy.host_allowed("REGISTRY.internal", 443)


def fetch(url: str, policy: AddressPolicy, resolver=None):
    async def go():
        transport = guarded_transport(policy, resolver) if resolver else guarded_transport(policy)
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
            return await client.get(url)

    return asyncio.run(go())


class Handler(http.server.BaseHTTPRequestHandler):
    """A small real server on loopback: `/redirect` sends to another loopback name, `/v2/` challenges."""

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/landed")
        elif self.path == "/v2/":
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://localhost:{port}/token",service="x"')
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def loopback_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_a_name_that_resolves_to_loopback_is_refused(loopback_server):
    with pytest.raises(ForbiddenAddress, match="Host 'localhost' resolves to 127.0.0.1"):
        fetch(f"http://localhost:{loopback_server}/", AddressPolicy())


def test_an_allow_listed_host_is_contacted(loopback_server):
    assert fetch(f"http://localhost:{loopback_server}/", AddressPolicy([f"localhost:{loopback_server}"])).status_code == 200


def test_a_redirect_to_a_forbidden_host_is_refused(loopback_server):
    # 127.0.0.1 is allowed, the redirect target's name `localhost` is not.
    with pytest.raises(ForbiddenAddress, match="'localhost'"):
        fetch(f"http://127.0.0.1:{loopback_server}/redirect", AddressPolicy(["127.0.0.1"]))


def test_a_token_realm_on_a_forbidden_host_is_refused(loopback_server):
    client = RegistryClient(
        f"127.0.0.1:{loopback_server}",
        transport=guarded_transport(AddressPolicy(["127.0.0.1"])),
        token_cache=TokenCache(),
    )
    with pytest.raises(ForbiddenAddress, match="Host 'localhost' resolves to 127.0.0.1"):
        asyncio.run(client.get_manifest("a/b", "latest"))


def test_the_checked_address_is_the_one_connected_to(loopback_server):
    """The name is resolved once; the connection goes to the address that was checked.

    `wave-test.invalid` does not resolve on this machine, so reaching the server proves that the
    connection used the resolver's answer rather than a second lookup.
    """
    lookups, checked = [], []

    class RecordingPolicy(AddressPolicy):
        def check(self, host, port, addresses):  # records instead of refusing loopback, for this test
            checked.append((host, addresses))

    async def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    response = fetch(f"http://wave-test.invalid:{loopback_server}/", RecordingPolicy(), resolver=resolver)
    assert response.status_code == 200
    assert lookups == ["wave-test.invalid"] and checked == [("wave-test.invalid", ["127.0.0.1"])]


def test_a_name_resolving_to_a_metadata_address_is_refused():
    async def resolver(host, port):
        return ["169.254.169.254"]

    with pytest.raises(ForbiddenAddress, match="Host 'metadata.test' resolves to 169.254.169.254"):
        fetch("http://metadata.test/latest/meta-data/", AddressPolicy(), resolver=resolver)


def test_one_forbidden_address_among_several_refuses_the_host():
    async def resolver(host, port):
        return ["8.8.8.8", "10.0.0.5"]

    with pytest.raises(ForbiddenAddress, match="10.0.0.5"):
        fetch("http://mixed.test/", AddressPolicy(), resolver=resolver)
