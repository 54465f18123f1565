"""The TLS front (nginx, `scripts/stack front`) in front of the service under uvicorn: skopeo pulls through
it verifying the local CA's certificate, and the service sees the real client address and knows it is
reached over https (README, TLS front)."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from builds.base_images import busybox_image
from builds.models import Build
from containers.models import ContainerRequest
from tests.support.factories import UserFactory, build_token
from tests.support.helpers import free_port, run, wait_until
from tests.support.servers import start_server, stop_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A client on another loopback address than the front's own (127.0.0.1, which the service trusts):
# the address the service records tells the two apart.
CLIENT_ADDRESS = "127.0.0.2"


class Front:
    def __init__(self, port: int, ca: Path):
        self.port, self.ca = port, ca
        self.url = f"https://localhost:{port}"
        self.authority = f"localhost:{port}"

    def client(self, **kwargs) -> httpx.Client:
        """A client that verifies the front's certificate with the local CA, from CLIENT_ADDRESS."""
        transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS, verify=ssl.create_default_context(cafile=self.ca))
        return httpx.Client(base_url=self.url, transport=transport, timeout=60, **kwargs)


def answers(url: str, ca: Path) -> bool:
    try:
        return httpx.get(url, verify=ssl.create_default_context(cafile=ca), timeout=2).status_code == 200
    except (httpx.TransportError, ssl.SSLError, FileNotFoundError):
        return False


@pytest.fixture(scope="module")
def front(django_db_setup, tmp_path_factory):
    root = tmp_path_factory.mktemp("tls-front")
    port = free_port()
    # The service as the stack configures it behind the front: its public URL is the front's, and the
    # front's loopback address is the one proxy believed.
    server = start_server(root / "server.log", WAVE_SERVER_URL=f"https://localhost:{port}", WAVE_TRUSTED_PROXIES="127.0.0.1")
    env = {k: v for k, v in os.environ.items() if k not in ("WAVE_TLS_CERT", "WAVE_TLS_KEY")}
    env.update(WAVE_DATA_DIR=str(root / "data"), WAVE_PORT=str(server.port), WAVE_TLS_PORT=str(port))
    with (root / "front.out").open("w") as out:
        process = subprocess.Popen([settings.BASE_DIR / "scripts" / "stack", "front"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    ca = root / "data" / "tls" / "ca.crt"
    try:
        wait_until(lambda: process.poll() is not None or answers(f"https://localhost:{port}/service-info", ca), timeout=60)
        assert process.poll() is None, (root / "front.out").read_text()
        yield Front(port, ca)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        stop_server(server)


def other_ca(folder: Path) -> Path:
    """A CA of its own, with the same name as the stack's: it signed nothing the front serves."""
    folder.mkdir()
    run("openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "1", "-subj", "/CN=Wave local CA", "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.crt"))
    (folder / "ca.key").unlink()  # containers/image reads a .key in a cert dir as a client key
    return folder


def cert_dir(folder: Path, ca: Path) -> Path:
    folder.mkdir()
    (folder / "ca.crt").write_bytes(ca.read_bytes())
    return folder


def test_the_local_ca_key_is_private_and_the_certificate_names_the_loopback_addresses(front):
    key = front.ca.parent / "ca.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (front.ca.parent / "server.key").stat().st_mode & 0o777 == 0o600
    text = run("openssl", "x509", "-noout", "-text", "-in", str(front.ca.parent / "server.crt")).stdout
    assert re.search(r"DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1", text), text


def test_skopeo_pulls_through_the_front_verifying_its_certificate(front, busybox, tmp_path):
    with front.client() as client:
        answer = client.post("/v1alpha2/container", json={"containerImage": busybox})
    assert answer.status_code == 200, answer.text
    image = answer.json()["targetImage"]
    assert image.startswith(f"{front.authority}/wt/"), image
    certs = cert_dir(tmp_path / "certs", front.ca)
    run("skopeo", "copy", "--src-cert-dir", str(certs), f"docker://{image}", f"oci:{tmp_path / 'out'}:latest")
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == busybox_image().manifest.digest


def test_a_pull_with_another_ca_fails_on_the_certificate(front, busybox, tmp_path):
    with front.client() as client:
        image = client.post("/v1alpha2/container", json={"containerImage": busybox}).json()["targetImage"]
    certs = other_ca(tmp_path / "other")
    result = subprocess.run(["skopeo", "copy", "--src-cert-dir", str(certs), f"docker://{image}", f"oci:{tmp_path / 'out'}:latest"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0, result.stdout
    assert "certificate signed by unknown authority" in result.stderr, result.stderr
    assert not (tmp_path / "out" / "index.json").exists()


def test_the_service_records_the_clients_address_not_the_fronts_nor_a_forged_one(front, busybox):
    with front.client() as client:
        answer = client.post("/v1alpha2/container", json={"containerImage": busybox},
                             headers={"X-Forwarded-For": "198.51.100.7"})  # the client's own claim proves nothing
    assert answer.status_code == 200, answer.text
    assert ContainerRequest.objects.get(token=answer.json()["containerToken"]).ip_address == CLIENT_ADDRESS


def test_the_service_knows_it_is_reached_over_https(front):
    with front.client() as client:
        response = client.get("/service-info")
    # Django sends HSTS only on a request it sees as secure: the front's X-Forwarded-Proto, believed.
    assert response.headers.get("Strict-Transport-Security", "").startswith("max-age="), response.headers


def test_a_failed_builds_details_uri_is_the_fronts_https_url(front, busybox):
    token = build_token(busybox, Build.Status.FAILED, "exit status 3")
    build_id = ContainerRequest.objects.get(token=token).build_id
    with front.client() as client:
        status = client.get(f"/v1alpha2/container/{token}/status").json()
    assert status["detailsUri"] == f"{front.url}/view/builds/{build_id}", status


def test_an_operator_logs_in_to_the_admin_through_the_front(front):
    user = UserFactory(is_staff=True, is_superuser=True)
    with front.client() as client:
        form = client.get("/admin/login/")
        assert form.status_code == 200, form.text
        assert "secure" in form.headers["set-cookie"].lower()  # the CSRF cookie goes over https only
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        login = client.post("/admin/login/?next=/admin/", headers={"Origin": front.url},
                            data={"username": user.username, "password": "password", "csrfmiddlewaretoken": csrf})
        assert login.status_code == 302, login.text
        assert login.headers["location"] == "/admin/"
        assert client.get("/admin/").status_code == 200


def stack(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run([settings.BASE_DIR / "scripts" / "stack", *args], env={**clean, "WAVE_DATA_DIR": str(data), **env},
                          capture_output=True, text=True, timeout=120)


def test_a_tls_setting_that_is_not_1_or_0_is_refused(tmp_path):
    result = stack(tmp_path / "data", "status", WAVE_TLS="yes")
    assert result.returncode == 1
    assert "WAVE_TLS must be 1 or 0, not 'yes'" in result.stderr


def test_a_certificate_without_its_key_is_refused(tmp_path):
    result = stack(tmp_path / "data", "front", WAVE_PORT=str(free_port()), WAVE_TLS_PORT=str(free_port()),
                   WAVE_TLS_CERT=str(tmp_path / "server.crt"))
    assert result.returncode == 1
    assert "WAVE_TLS_CERT and WAVE_TLS_KEY go together" in result.stderr


def test_the_front_serves_the_operators_certificate_and_makes_no_ca(tmp_path):
    ca = other_ca(tmp_path / "operator")
    run("openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", str(tmp_path / "server.key"),
        "-out", str(tmp_path / "server.crt"))
    port, data = free_port(), tmp_path / "data"
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(WAVE_DATA_DIR=str(data), WAVE_PORT=str(free_port()), WAVE_TLS_PORT=str(port),
               WAVE_TLS_CERT=str(tmp_path / "server.crt"), WAVE_TLS_KEY=str(tmp_path / "server.key"))
    process = subprocess.Popen([settings.BASE_DIR / "scripts" / "stack", "front"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        operator = tmp_path / "server.crt"  # self-signed: it is its own trust anchor
        url = f"https://localhost:{port}/service-info"

        def served() -> int | None:
            try:  # 502: nothing listens behind it, but the handshake verified the operator's certificate
                return httpx.get(url, verify=ssl.create_default_context(cafile=operator), timeout=2).status_code
            except httpx.ConnectError:
                assert process.poll() is None, "the front exited"
                return None

        assert wait_until(served, timeout=30) == 502
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url, verify=ssl.create_default_context(cafile=ca / "ca.crt"), timeout=5)
        assert not (data / "tls" / "ca.key").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
