"""What browsers are told about the service's origin: nosniff everywhere, blobs and manifests never
typed as HTML whatever the upstream says, no framing, Secure cookies and HSTS behind HTTPS; and what
strangers read of who asked: user ids, never names or email domains."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import subprocess
import sys
import threading

import httpx
import pytest
from django.test import Client

from tests.support.factories import UserFactory, api_token
from tests.support.helpers import post
from tests.support.servers import server_env
from wave_site.security_headers import https_settings

pytestmark = pytest.mark.django_db

HSTS_YEAR = 31536000
HTML = b"<html><script>alert(document.cookie)</script></html>"
CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# A manifest that calls itself text/html and carries markup, as a hostile upstream would serve it.
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "text/html",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(CONFIG), "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(HTML), "size": len(HTML)}],
    "annotations": {"x": "<script>alert(1)</script>"},
}).encode()


class HostileRegistry(http.server.BaseHTTPRequestHandler):
    """Anonymous, and everything it serves is `text/html`."""

    def do_GET(self):
        body = {"/v2/": b"{}", "/v2/evil/app/manifests/latest": MANIFEST, f"/v2/evil/app/manifests/{sha256(MANIFEST)}": MANIFEST,
                f"/v2/evil/app/blobs/{sha256(HTML)}": HTML, f"/v2/evil/app/blobs/{sha256(CONFIG)}": CONFIG}.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body or b"")

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hostile_registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileRegistry)  # 127.0.0.1 is allow-listed in tests
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def hostile_token(api, hostile_registry) -> str:
    response = post(api, "/v1alpha2/container", {"containerImage": f"{hostile_registry}/evil/app:latest"})
    assert response.status_code == 200, response.text
    return response.json()["containerToken"]


def test_an_upstream_manifest_calling_itself_html_is_served_as_bytes(api, hostile_token):
    response = api.get(f"/v2/wt/{hostile_token}/evil/app/manifests/latest")
    assert response.status_code == 200 and response.content == MANIFEST
    assert response["Content-Type"] == "application/octet-stream"


def test_an_upstream_blob_typed_html_is_served_as_bytes_by_the_real_pull_path(wave_server, hostile_registry):
    # The live ASGI app: `/v2/` runs there without Django's middleware, so nosniff must come from its own handler.
    token = wave_server.request_container({"containerImage": f"{hostile_registry}/evil/app:latest"})["containerToken"]
    url = f"{wave_server.url}/v2/wt/{token}/evil/app/blobs/{sha256(HTML)}"
    for response in (httpx.get(url), httpx.head(url)):
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert httpx.get(url).content == HTML


def test_the_pull_paths_errors_are_nosniff_too(wave_server):
    response = httpx.get(f"{wave_server.url}/v2/wt/000000000000/library/busybox/manifests/latest")
    assert response.status_code == 404 and response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/service-info", "/accounts/login/", "/v1alpha1/builds/unknown/status", "/openapi/"])
def test_the_api_and_the_pages_are_nosniff_and_never_framed(wave_server, path):
    headers = httpx.get(f"{wave_server.url}{path}").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_https_settings_follow_the_server_url():
    assert https_settings("https://wave.example.org", 600) == {
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SECURE_HSTS_SECONDS": 600,
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    }
    assert https_settings("http://localhost:9090", 600) == {
        "SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0, "SECURE_PROXY_SSL_HEADER": None,
    }


@pytest.mark.parametrize("server_url, expected", [
    ("https://wave.example.org", "True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https')"),
    ("http://wave.example.org:9090", "False False 0 None"),
])


def test_the_settings_module_derives_them_from_WAVE_SERVER_URL(server_url, expected):
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)")
    result = subprocess.run([sys.executable, "-c", code], env=server_env(WAVE_SERVER_URL=server_url), capture_output=True, text=True)
    assert result.stdout.strip() == expected, result.stderr


@pytest.fixture
def behind_https(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = HSTS_YEAR
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def log_in(**extra):
    UserFactory(username="alice")
    client = Client()
    page = client.get("/accounts/login/", **extra)
    response = client.post("/accounts/login/", {"username": "alice", "password": "password"}, **extra)
    assert response.status_code == 302
    return page, response


def test_behind_https_cookies_are_secure_and_browsers_keep_to_https(behind_https):
    page, login = log_in(HTTP_X_FORWARDED_PROTO="https")
    assert page["Strict-Transport-Security"] == f"max-age={HSTS_YEAR}"
    assert page.cookies["csrftoken"]["secure"] is True
    assert login.cookies["sessionid"]["secure"] is True and login.cookies["sessionid"]["httponly"] is True


def test_over_plain_http_there_is_no_hsts_and_a_forwarded_proto_is_not_believed():
    page, login = log_in(HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in page
    assert page.cookies["csrftoken"]["secure"] == "" and login.cookies["sessionid"]["secure"] == ""


def test_a_stranger_reads_the_user_of_a_request_or_build_by_id_only(api, busybox):
    owner = UserFactory(username="zq-alice", email="zq-alice@zq-corp.example")  # names no page text contains
    owner_token = api_token(owner)
    token = post(api, "/v1alpha2/container", {"containerImage": busybox, "towerAccessToken": owner_token}).json()["containerToken"]
    dockerfile = base64.b64encode(f"FROM {busybox}\nRUN true\n".encode()).decode()
    build = post(api, "/v1alpha2/container", {"containerFile": dockerfile, "towerAccessToken": owner_token}).json()
    paths = [f"/container-token/{token}", f"/v1alpha2/container/{token}", f"/v1alpha2/container/{token}/status",
             f"/v1alpha2/container/{build['requestId']}", f"/v1alpha1/builds/{build['buildId']}",
             f"/v1alpha1/builds/{build['buildId']}/status", f"/view/builds/{build['buildId']}"]
    for path in paths:
        response = Client().get(path)  # a stranger: no credentials
        assert response.status_code == 200, path
        text = response.content.decode()
        assert "zq-alice" not in text and "zq-corp" not in text, path
    assert api.get(f"/container-token/{token}").json()["user"] == {"id": owner.pk}
