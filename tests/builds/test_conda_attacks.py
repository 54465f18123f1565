"""Conda packages are untrusted: real malicious packages from a channel on loopback, real builds on
the shared worker, the real unprivileged child (security review F2, F3a, F3c, F13)."""

from __future__ import annotations

import asyncio
import http.server
import os
import tempfile
import threading
import time
import uuid
from functools import partial
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from rattler.index import index_fs

from builds.models import Build
from builds.sandbox.child import build_user, owned_dir, root_dir, run_unprivileged
from tests.support.builds import conda_request
from tests.support.conda_channel import QuietHandler, package
from tests.support.helpers import completed, post, registry_auth, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OK = {"share/ok.txt": (b"ok\n", 0o644)}


class StallingHandler(QuietHandler):
    """Serves the channel, but never finishes sending `wavetest-slow`."""

    def do_GET(self):
        if "wavetest-slow" not in self.path:
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x")
        self.wfile.flush()
        time.sleep(60)


@pytest.fixture(scope="module")
def evil_channel(tmp_path_factory):
    root = tmp_path_factory.mktemp("evil-channel")
    package(root, "wavetest-exfil", "1.0", "noarch", OK, listed=("../../registry.yml",))
    package(root, "wavetest-abspath", "1.0", "noarch", OK, listed=("/abs/file",))
    package(root, "wavetest-uplink", "1.0", "noarch", {}, symlinks={"bin/x": "../../../etc/passwd"})
    package(root, "wavetest-abslink", "1.0", "noarch", {}, symlinks={"bin/x": "/etc/passwd"})
    package(root, "wavetest-goodlink", "1.0", "noarch", OK, symlinks={"bin/ok": "../share/ok.txt"})
    package(root, "wavetest-slow", "1.0", "noarch", OK)
    asyncio.run(index_fs(root, write_zst=False, write_shards=False))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(StallingHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def failed_build(server, request: dict) -> Build:
    body = server.request_container(request)
    assert completed(server, body["buildId"])["succeeded"] is False
    build = Build.objects.get(pk=body["buildId"])
    repository, tag = build.target_image.rsplit(":", 1)
    host, path = repository.split("/", 1)
    assert httpx.get(f"http://{host}/v2/{path}/manifests/{tag}", auth=registry_auth(host)).status_code == 404  # nothing was pushed
    return build


def test_a_package_path_with_dotdot_fails_the_build_and_pushes_nothing(wave_server, build_worker, evil_channel, busybox):
    build = failed_build(wave_server, conda_request(evil_channel, busybox, ["wavetest-exfil"]))
    assert build.reason == (
        "Package wavetest-exfil-1.0-0.tar.bz2 is refused: its info/paths.json path '../../registry.yml' has a '..' component"
    )
    assert build.reason in build.log


def test_an_absolute_package_path_fails_the_build_and_the_worker_goes_on(wave_server, build_worker, evil_channel, conda_channel, busybox):
    build = failed_build(wave_server, conda_request(evil_channel, busybox, ["wavetest-abspath"]))
    assert build.reason == "Package wavetest-abspath-1.0-0.tar.bz2 is refused: its info/paths.json path '/abs/file' is absolute"
    assert build_worker.poll() is None
    after = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-extra"]))
    assert completed(wave_server, after["buildId"])["succeeded"] is True


@pytest.mark.parametrize("name, target", [("wavetest-uplink", "'../../../etc/passwd', outside the prefix"),
                                          ("wavetest-abslink", "the absolute path '/etc/passwd'")])


def test_a_symlink_leaving_the_prefix_fails_the_build(wave_server, build_worker, evil_channel, busybox, name, target):
    build = failed_build(wave_server, conda_request(evil_channel, busybox, [name]))
    assert build.reason == f"Package {name}-1.0-0.tar.bz2 is refused: its archive member 'bin/x' points at {target}"


def test_a_symlink_inside_the_prefix_is_installed(wave_server, build_worker, evil_channel, busybox, podman):
    body = wave_server.request_container(conda_request(evil_channel, busybox, ["wavetest-goodlink"]))
    assert completed(wave_server, body["buildId"])["succeeded"] is True, Build.objects.get(pk=body["buildId"]).log
    assert podman("run", "--rm", "--tls-verify=false", body["targetImage"], "cat", "/opt/conda/bin/ok").stdout == "ok\n"


def test_a_conda_step_past_the_timeout_is_stopped(api, build_worker, evil_channel, busybox, settings):
    settings.WAVE_BUILD_TIMEOUT = 6
    body = post(api, "/v1alpha2/container", conda_request(evil_channel, busybox, ["wavetest-slow"])).json()
    build = wait_until(lambda: Build.objects.filter(pk=body["buildId"], status=Build.Status.FAILED).first(), timeout=60)
    assert build.reason == "The build timed out after 6 seconds and was stopped"
    assert build.duration < 30
    assert "Solving wavetest-slow" in build.log


def run_probe(*args: str) -> tuple[int, str]:
    user = build_user()
    work = Path(tempfile.mkdtemp(dir=root_dir(Path(settings.WAVE_CONDA_WORK_DIR) / "builds")))
    owned_dir(work, user)
    output: list[str] = []
    status = run_unprivileged("tests.support.sandbox_probe", list(args), work=work, user=user,
                              output=output.append, deadline=time.monotonic() + 60, tick=lambda: None)
    os.rmdir(work)
    return status, "".join(output)


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root worker can switch to the build user")
def test_the_child_cannot_read_secrets_in_data():
    secret = Path(settings.WAVE_DATA_DIR) / f"test-secret-{uuid.uuid4().hex[:8]}"
    secret.touch(mode=0o600)
    secret.write_text("s3cret")
    try:
        status, output = run_probe("read", str(secret))
    finally:
        secret.unlink()
    uid, gid = build_user()
    assert f"uid={uid} gid={gid} groups=[] secret_key_in_env=False" in output
    assert status == 3 and "denied: Permission denied" in output, output


def test_the_child_has_the_memory_limit(settings):
    settings.WAVE_BUILD_MEMORY = 512 << 20
    assert run_probe("allocate", str(64 << 20))[0] == 0
    status, output = run_probe("allocate", str(1 << 30))
    assert status == 1 and "MemoryError" in output


def test_package_urls_at_a_forbidden_address_are_refused(api):
    entries = ["http://127.0.0.2:18081/x/linux-64/bwa-1-0.conda", "http://127.0.0.2:18081/x/noarch/zz-1-0.tar.bz2"]
    response = post(api, "/v1alpha2/container", {"packages": {"type": "CONDA", "entries": entries, "channels": ["conda-forge"]}})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith(f"Conda package '{entries[0]}' cannot be used: ") and "127.0.0.2" in message


@pytest.mark.parametrize("channel", ["/some/dir", "file:///some/dir", "./dir"])
def test_a_local_channel_is_refused(api, channel):
    response = post(api, "/v1alpha2/container", {"packages": {"type": "CONDA", "entries": ["bwa"], "channels": [channel]}})
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"Conda channel '{channel}' cannot be used: ")


def test_a_local_channel_in_a_spec_is_refused(api):
    body = {"packages": {"type": "CONDA", "entries": ["bwa[channel=/some/dir]"], "condaOpts": {"basePackages": ""}}}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Conda package 'bwa[channel=/some/dir]' cannot be used: it is a local folder (file:///some/dir/); "
        "name a channel or give its http(s) URL"
    )
