"""The build sandbox's egress proxy and namespaces, without a builder: the policy at the socket level."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from builds.sandbox.egress import Egress
from builds.sandbox.spec import HERE
from oci.netguard import resolve_addresses
from tests.support.builds import CountingListener
from tests.support.helpers import REGISTRY, wait_until


def exchange(path: Path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(str(path))
        client.sendall(request)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def fake_resolver(table: dict[str, list[str]]):
    """Names of the table as given; IP literals and localhost as the system resolves them (no DNS query)."""
    async def resolve(host: str, port: int) -> list[str]:
        return table[host] if host in table else await resolve_addresses(host, port)
    return resolve


@pytest.fixture
def echo_server():
    """An HTTP server on 127.0.0.1 that answers every request with the request line it got."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"{self.requestline}|{self.headers.get('Connection')}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def egress(tmp_path):
    resolver = fake_resolver({"metadata.example": ["169.254.169.254"], "mixed.example": ["93.184.216.34", "10.1.2.3"],
                              "rebind.example": ["127.0.0.1"], "v6.example": ["::1"]})
    with Egress(tmp_path / "egress", allowlist=["127.0.0.1"], forwards={}, resolver=resolver) as egress:
        yield egress


# The stack's own Redis, Postgres and registry, whatever their ports, then names and addresses that hide private ones.
STACK = [f"127.0.0.1:{urlsplit(settings.REDIS_URL).port}", f"[::1]:{settings.DATABASES['default']['PORT']}", REGISTRY]


@pytest.mark.parametrize("target", [*STACK, "metadata.example:80", "mixed.example:443",
                                    "rebind.example:443", "v6.example:443", "10.0.0.1:443", "[::ffff:127.0.0.1]:443"])


def test_run_steps_cannot_connect_anywhere_but_public_addresses(egress, target):
    listener = CountingListener()
    answer = exchange(egress.socket("run"), f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 403 ") or answer.startswith(b"HTTP/1.1 502 "), answer
    assert b"loopback, private or link-local" in answer or b"cannot resolve" in answer
    assert listener.connections == 0
    listener.close()


def test_plain_http_to_a_private_address_is_refused_and_named(egress):
    answer = exchange(egress.socket("run"), b"GET http://metadata.example/latest/meta-data/ HTTP/1.1\r\nHost: metadata.example\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert b"'metadata.example' resolves to 169.254.169.254" in answer
    assert egress.refused == ["RUN step: Host 'metadata.example' resolves to 169.254.169.254, a loopback, private or "
                              "link-local address that this service does not contact"]


def test_the_builder_reaches_allow_listed_hosts_one_request_per_connection(egress, echo_server):
    answer = exchange(egress.socket("builder"), f"GET http://127.0.0.1:{echo_server}/v2/?x=1 HTTP/1.1\r\nHost: x\r\n"
                                                  "Proxy-Connection: keep-alive\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200"), answer
    assert answer.endswith(b"GET /v2/?x=1 HTTP/1.1|close")
    # The same address is refused to RUN steps: the allow-list is the builder's alone.
    refused = exchange(egress.socket("run"), f"GET http://127.0.0.1:{echo_server}/ HTTP/1.1\r\n\r\n".encode())
    assert refused.startswith(b"HTTP/1.1 403 ")


@pytest.mark.parametrize("request_bytes", [b"NONSENSE\r\n\r\n", b"GET /relative HTTP/1.1\r\n\r\n",
                                           b"GET ftp://x/ HTTP/1.1\r\n\r\n", b"CONNECT :99999 HTTP/1.1\r\n\r\n"])


def test_malformed_requests_get_a_400(egress, request_bytes):
    assert exchange(egress.socket("run"), request_bytes).startswith(b"HTTP/1.1 400 ")


def launch(spec: dict, command: str) -> subprocess.CompletedProcess:
    spec = {**spec, "commands": [{"argv": ["sh", "-c", command]}]}
    return subprocess.run([sys.executable, str(HERE / "launch.py"), json.dumps(spec)], capture_output=True, text=True, timeout=30)


def test_the_launcher_namespace_has_only_its_bridges(tmp_path, echo_server):
    """The builder's namespace: a bridged port leads to its socket; the host's loopback ports do not exist."""
    listener = CountingListener()
    with Egress(tmp_path / "egress", allowlist=[], forwards={echo_server: "127.0.0.1"}) as egress:
        spec = {"bridges": {str(echo_server): str(egress.socket(f"forward-{echo_server}"))}, "run_bridge": None}
        marker = uuid.uuid4().hex
        result = launch(spec, f"echo {marker}; ip -o addr | grep -c inet; "
                              f"busybox wget -q -O- http://127.0.0.1:{echo_server}/bridged; echo; "
                              f"busybox nc -w 2 127.0.0.1 {listener.port} </dev/null && echo listener-OPEN || echo listener-closed")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == marker and lines[1] == "2"  # 127.0.0.1 and ::1 on lo, nothing else
    assert "GET /bridged HTTP/1.1" in result.stdout and "listener-closed" in result.stdout
    assert listener.connections == 0
    listener.close()


def test_without_egress_run_steps_get_no_network_namespace_of_their_own(tmp_path):
    result = launch({"bridges": {}, "run_bridge": None}, "echo --network @RUN_NETNS@")
    assert result.stdout.strip() == "--network none"
    with Egress(tmp_path / "egress", allowlist=[], forwards={}) as egress:
        result = launch({"bridges": {}, "run_bridge": str(egress.socket("run"))}, "echo @RUN_NETNS@; readlink /proc/self/ns/net; "
                        "readlink $(echo @RUN_NETNS@ | cut -d: -f2)")
    lines = result.stdout.split()
    assert lines[0].startswith("ns:/proc/") and lines[0].endswith("/ns/net")
    assert lines[1] != lines[2]  # the RUN namespace is not the builder's


def test_the_launcher_runs_its_commands_in_order_until_one_fails():
    spec = {"bridges": {}, "run_bridge": None, "commands": [
        {"argv": ["echo", "one"]}, {"argv": ["sh", "-c", "exit 7"], "announce": "two"}, {"argv": ["echo", "never"]}]}
    result = subprocess.run([sys.executable, str(HERE / "launch.py"), json.dumps(spec)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 7
    assert result.stdout.split() == ["one", "two"]


@pytest.mark.parametrize("private_app", [False, True], ids=["under-a-private-folder", "private-itself"])
def test_the_launcher_exposes_a_folder_under_a_private_one_and_hides_another(tmp_path, private_app):
    """The conda child's view: the app reachable by an unprivileged user though it lives in a 0700
    folder (a checkout under /root) or is one (a clone into `mktemp -d`), the data folder empty."""
    private = tmp_path / "private"
    app = private / "app"
    (app / "data").mkdir(parents=True)
    (app / "code.py").write_text("print('code')\n")
    (app / "data" / "secret").write_text("s3cret\n")
    private.chmod(0o700)
    if private_app:
        app.chmod(0o700)
    spec = {"bridges": {}, "run_bridge": None, "expose": str(app), "hide": [str(app / "data")], "commands": [
        {"argv": ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c",
                  f"cat {app}/code.py; ls -A {app}/data | wc -l; cat {app}/data/secret || echo no-secret"]}]}
    result = subprocess.run([sys.executable, str(HERE / "launch.py"), json.dumps(spec)], capture_output=True, text=True, timeout=30)
    assert result.stdout.split() == ["print('code')", "0", "no-secret"], result.stderr
    # Outside the sandbox nothing changed.
    assert (app / "data" / "secret").read_text() == "s3cret\n" and oct(private.stat().st_mode & 0o777) == "0o700"


def test_run_steps_reach_only_the_web_ports(tmp_path):
    resolver = fake_resolver({"public.example": ["93.184.216.34"]})
    with Egress(tmp_path / "egress", allowlist=[], forwards={}, resolver=resolver, run_ports=frozenset({80, 443})) as egress:
        answer = exchange(egress.socket("run"), b"CONNECT public.example:25 HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert b"port 25 of 'public.example' is not open to RUN steps (only 80, 443" in answer


def test_refusals_kept_for_the_log_are_bounded(egress):
    for number in range(50):
        exchange(egress.socket("run"), f"CONNECT 10.0.0.{number}:443 HTTP/1.1\r\n\r\n".encode())
    assert len(egress.refused) == 21
    assert egress.refused[-1] == "RUN step: ... and 30 more"


def test_a_bridge_holds_a_bounded_number_of_connections(tmp_path):
    """A RUN step opening connections by the thousand gets MAX_CONNECTIONS of them, not a thread pair each."""
    import threading

    from builds.sandbox import launch as launcher

    path = str(tmp_path / "upstream.sock")
    upstream = socket.socket(socket.AF_UNIX)
    upstream.bind(path)
    upstream.listen(1024)
    accepted = []
    threading.Thread(target=lambda: [accepted.append(upstream.accept()[0]) for _ in iter(int, 1)], daemon=True).start()
    launcher_socket = socket.create_server(("127.0.0.1", 0))
    port = launcher_socket.getsockname()[1]
    launcher_socket.close()
    threads_before = threading.active_count()
    launcher._listen({port: path})
    clients = []
    for _ in range(launcher.MAX_CONNECTIONS + 40):
        client = socket.create_connection(("127.0.0.1", port))
        clients.append(client)
    wait_until(lambda: len(accepted) >= launcher.MAX_CONNECTIONS, timeout=10)
    time.sleep(0.5)
    assert len(accepted) == launcher.MAX_CONNECTIONS
    assert threading.active_count() - threads_before <= 2 * launcher.MAX_CONNECTIONS + 1
    for client in clients:
        client.close()
    upstream.close()
