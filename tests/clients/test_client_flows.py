"""The real clients end to end: each body as the client builds it (tests/support/bodies), the answer
followed the way the client follows it, the fields bound the way the client binds them, and the
resulting image pulled and run by skopeo (+ umoci), podman and buildah.

Nextflow (`WaveClient.isContainerReady`): with a `requestId`, ready when `succeeded`, else poll
`/v1alpha2/container/{id}/status` until DONE; without one, a non-cached `buildId` is polled on
`/v1alpha1/builds/{id}/status` until COMPLETED. wave-cli (`App.run`, `--await`): polls the container
status only if `requestId != null && succeeded == null`, else prints the answer at once.
containerd's `ctr` (Debian's containerd, a daemon of this module's own) pulls and runs the images
served through the service; frozen images sit in the stack's registry behind a login, which `ctr`
takes only on its command line (readable by every process), so they are left to the others.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from builds.models import Build
from oci.layer import LayerBuilder
from tests.support.bodies import client_body
from tests.support.factories import api_token
from tests.support.helpers import b64, registry_auth, run, unique, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")  # Instant.parse, ISO_INSTANT
CONTAINER_STATUSES = {"PENDING", "BUILDING", "SCANNING", "DONE"}  # the ContainerStatus enum


def submit(server, body: dict) -> dict:
    response = httpx.post(f"{server.url}/v1alpha2/container", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer.get("requestId"), f"every answer has a requestId: {answer}"
    if "expiration" in answer:
        assert ISO_INSTANT.match(answer["expiration"])
    return answer


def bind_container_status(text: str) -> dict:
    """What Nextflow's `jsonToContainerStatusResponse` and wave-cli's Moshi make of a status, or fail
    where they would."""
    status = json.loads(text)
    literals = json.loads(text, parse_float=str, parse_int=str)
    assert ISO_INSTANT.match(status["creationTime"]), status
    assert status["status"] in CONTAINER_STATUSES, status
    assert status.get("succeeded") in (None, True, False), status
    if "duration" in literals:  # wave-cli DateTimeAdapter: seconds if the literal has a '.', else Long nanoseconds
        assert "." in literals["duration"] and "e" not in literals["duration"].lower(), literals
    return status


def bind_build_status(text: str) -> dict:
    """Nextflow's `jsonToBuildStatusResponse`: status enum, Instant.parse(startTime), duration as double."""
    status = json.loads(text)
    assert status["status"] in ("PENDING", "COMPLETED"), status
    if status.get("startTime"):
        assert ISO_INSTANT.match(status["startTime"]), status
    if status.get("duration") is not None:
        assert isinstance(status["duration"], float), status
    return status


def container_status(server, request_id: str) -> dict:
    response = httpx.get(f"{server.url}/v1alpha2/container/{request_id}/status")
    assert response.status_code == 200, response.text
    return bind_container_status(response.text)


def await_done(server, request_id: str) -> dict:
    return wait_until(lambda: (s := container_status(server, request_id))["status"] == "DONE" and s, timeout=300, every=0.5)


def nextflow_ready(server, answer: dict) -> dict | None:
    """`isContainerReady` until ready; the final status it read, or None when the answer was enough."""
    if answer.get("requestId"):
        if answer.get("succeeded"):
            return None
        status = await_done(server, answer["requestId"])
        assert status["succeeded"] is True, status
        return status
    if answer.get("buildId") and not answer.get("cached"):
        url = f"{server.url}/v1alpha1/builds/{answer['buildId']}/status"
        status = wait_until(lambda: (s := bind_build_status(httpx.get(url).text))["status"] == "COMPLETED" and s, timeout=300)
        assert status["succeeded"] is True, status
        return status
    return None


def wavecli_await(server, answer: dict) -> dict | None:
    """`wave --await`: the DONE status it waited for, or None when it prints the answer at once."""
    if answer.get("requestId") is not None and answer.get("succeeded") is None:
        status = await_done(server, answer["requestId"])
        assert status["succeeded"] is True, status  # SubmitContainerTokenResponseEx unboxes it
        return status
    return None


# --- the pulling clients ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def buildah(tmp_path_factory):
    root = tmp_path_factory.mktemp("buildah")

    def buildah_run(*args: str) -> str:
        return run("buildah", "--root", str(root / "root"), "--runroot", str(root / "runroot"), *args).stdout

    return buildah_run


@pytest.fixture(scope="module")
def ctr(tmp_path_factory):
    """`ctr` against a containerd of its own (own root, state and socket; the CRI plugin off)."""
    if shutil.which("containerd") is None:
        pytest.fail("containerd is not installed: `scripts/stack install` adds the Debian package")
    base = tmp_path_factory.mktemp("containerd")
    socket = base / "containerd.sock"
    (base / "config.toml").write_text(
        f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n[ttrpc]\n  address = "{socket}.ttrpc"\n'
    )
    with (base / "containerd.log").open("w") as log:
        daemon = subprocess.Popen(["containerd", "--config", str(base / "config.toml")], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: subprocess.run(["ctr", "-a", str(socket), "version"], capture_output=True).returncode == 0, timeout=30)

        def ctr_run(*args: str) -> str:
            return run("ctr", "-a", str(socket), "-n", "flows", *args).stdout

        yield ctr_run
    finally:
        daemon.terminate()
        daemon.wait(30)


def pulled_and_run(image: str, command: list[str], tmp_path: Path, podman, buildah, authfile: str | None = None, ctr=None) -> dict:
    """Each client's output of `command` in `image`, and the files skopeo's copy unpacks to."""
    auth = ["--authfile", authfile] if authfile else []
    outputs = {}
    layout = tmp_path / f"oci-{unique()}"
    run("skopeo", "copy", "--src-tls-verify=false", *(["--src-authfile", authfile] if authfile else []), f"docker://{image}", f"oci:{layout}:latest")
    bundle = tmp_path / f"bundle-{unique()}"
    run("umoci", "unpack", "--rootless", "--image", f"{layout}:latest", str(bundle))
    outputs["skopeo"] = bundle / "rootfs"
    outputs["podman"] = podman("run", "--rm", "--tls-verify=false", *auth, "--network", "none", image, *command).stdout
    container = buildah("from", "--tls-verify=false", *auth, "--name", f"flow-{unique()}", image).strip()
    try:
        outputs["buildah"] = buildah("run", "--isolation", "chroot", container, "--", *command)
    finally:
        buildah("rm", container)
    if ctr is not None:
        ctr("images", "pull", "--plain-http", image)
        outputs["ctr"] = ctr("run", "--rm", image, f"flow-{unique()}", *command)
    return outputs


# --- the flows ----------------------------------------------------------------------------------


def test_wavecli_image_is_ready_at_once_and_runs(wave_server, busybox, podman, buildah, ctr, tmp_path):
    answer = submit(wave_server, client_body("wavecli_image", containerImage=busybox))
    assert answer["succeeded"] is True and answer["containerToken"] == answer["requestId"] and "cached" not in answer
    assert wavecli_await(wave_server, answer) is None and nextflow_ready(wave_server, answer) is None
    status = container_status(wave_server, answer["requestId"])
    assert status["status"] == "DONE" and status["succeeded"] is True and "duration" in status
    out = pulled_and_run(answer["targetImage"], ["/bin/echo", "hello-wavecli"], tmp_path, podman, buildah, ctr=ctr)
    assert out["podman"] == out["buildah"] == out["ctr"] == "hello-wavecli\n" and (out["skopeo"] / "bin" / "busybox").exists()


def _fusion_stand_in() -> dict:
    """The Fusion layer is fetched from fusionfs.seqera.io; here a loopback-free stand-in at the same
    path, `/usr/bin/fusion`, that runs its arguments as Fusion's entrypoint would."""
    layer = LayerBuilder().add_file("usr/bin/fusion", b'#!/bin/sh\necho fusion-entry\nexec "$@"\n', mode=0o755).build()
    return {
        "location": "data:" + base64.b64encode(layer.gzip).decode(), "gzipDigest": layer.gzip_digest,
        "gzipSize": layer.size, "tarDigest": layer.tar_digest, "skipHashing": None,
    }


def test_nextflow_image_with_fusion_and_bundle_layers_runs_with_every_layer(wave_server, busybox, podman, buildah, ctr, tmp_path):
    config = client_body("nextflow_image_layers")["containerConfig"]
    assert [layer["skipHashing"] for layer in config["layers"]] == [None, None, None]
    config["layers"][2] = _fusion_stand_in()
    answer = submit(wave_server, client_body("nextflow_image_layers", containerImage=busybox, containerConfig=config))
    assert nextflow_ready(wave_server, answer) is None  # succeeded: ready without polling
    command = ["/bin/sh", "-c", "/usr/local/bin/nf-project-tool.sh; /usr/bin/nf-module-tool.sh; echo $FUSION_WORK"]
    out = pulled_and_run(answer["targetImage"], command, tmp_path, podman, buildah, ctr=ctr)
    expected = "project bin\nmodule resources\n/fusion/s3/bucket/work\n"
    assert out["podman"] == "fusion-entry\n" + expected  # through the entrypoint, /usr/bin/fusion
    assert out["buildah"] == out["ctr"] == expected  # their arguments replace entrypoint and cmd alike
    assert (out["skopeo"] / "usr" / "bin" / "fusion").exists() and (out["skopeo"] / "usr" / "local" / "bin" / "nf-project-tool.sh").exists()


def test_nextflow_dockerfile_is_awaited_on_the_container_status_then_runs(wave_server, build_worker, registry, podman, buildah, ctr, tmp_path):
    marker = unique()
    dockerfile = f"FROM {registry}/library/busybox:latest\nRUN echo {marker} > /built-by-nextflow\n"
    answer = submit(wave_server, client_body("nextflow_dockerfile", containerFile=b64(dockerfile)))
    build_hash = answer["buildId"][:16]
    assert answer["cached"] is False and "succeeded" not in answer and answer["containerImage"] == f"{registry}/wave/builds:{build_hash}"
    status = nextflow_ready(wave_server, answer)
    assert status["buildId"] == answer["buildId"] and float(status["duration"]) > 0
    bind_build_status(httpx.get(f"{wave_server.url}/v1alpha1/builds/{answer['buildId']}/status").text)  # the deprecated path binds too
    out = pulled_and_run(answer["targetImage"], ["/bin/cat", "/built-by-nextflow"], tmp_path, podman, buildah, ctr=ctr)
    assert out["podman"] == out["buildah"] == out["ctr"] == f"{marker}\n"
    assert (out["skopeo"] / "built-by-nextflow").read_text() == f"{marker}\n"


def test_nextflow_freeze_is_awaited_then_pulled_from_the_build_repository(
    wave_server, build_worker, registry, busybox, registry_authfile, podman, buildah, tmp_path
):
    repository = f"{registry}/frozen/nf-{unique()}"
    answer = submit(wave_server, client_body("nextflow_freeze", containerImage=busybox, buildRepository=repository))
    assert answer["targetImage"] == answer["containerImage"] == f"{repository}:{answer['buildId'][:16]}"
    assert "containerToken" not in answer and "expiration" not in answer and answer["freeze"] is True
    nextflow_ready(wave_server, answer)
    assert Build.objects.get(pk=answer["buildId"]).status == Build.Status.SUCCEEDED
    out = pulled_and_run(answer["targetImage"], ["/bin/echo", "frozen"], tmp_path, podman, buildah, registry_authfile)
    assert out["podman"] == out["buildah"] == "frozen\n"


def test_wavecli_freeze_await_waits_until_the_image_exists(
    wave_server, build_worker, registry, busybox, owner, registry_authfile, podman, buildah, tmp_path
):
    repository = f"{registry}/frozen/cli-{unique()}"
    body = client_body(
        "wavecli_freeze", containerImage=busybox, buildRepository=repository,
        towerAccessToken=api_token(owner), towerEndpoint=wave_server.url,  # `--tower-endpoint` naming this service
    )
    answer = submit(wave_server, body)
    assert "succeeded" not in answer and "containerToken" not in answer  # a new build: wave-cli awaits it
    status = wavecli_await(wave_server, answer)
    assert status is not None and status["buildId"] == answer["buildId"]
    manifest = httpx.head(
        f"http://{registry}/v2/{repository.split('/', 1)[1]}/manifests/{answer['buildId'][:16]}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, auth=registry_auth(registry),
    )
    assert manifest.status_code == 200  # what --await promises: the printed image exists
    out = pulled_and_run(answer["targetImage"], ["/bin/echo", "frozen-by-cli"], tmp_path, podman, buildah, registry_authfile)
    assert out["podman"] == out["buildah"] == "frozen-by-cli\n"


def test_wavecli_dry_run_names_the_image_the_real_run_serves(wave_server, build_worker, registry, podman, buildah, ctr, tmp_path):
    marker = unique()
    dockerfile = b64(f"FROM {registry}/library/busybox:latest\nRUN echo {marker} > /dry\n")
    dry = submit(wave_server, client_body("wavecli_dryrun", containerFile=dockerfile))
    build_hash = dry["buildId"][:16]
    assert dry["buildId"] == f"{build_hash}_0" and dry["succeeded"] is True and dry["cached"] is False
    assert wavecli_await(wave_server, dry) is None  # wave-cli prints it (and refuses --dry-run with --await)
    assert not Build.objects.filter(content_hash=build_hash).exists()
    real = submit(wave_server, client_body("wavecli_dryrun", containerFile=dockerfile, dryRun=False))
    assert real["targetImage"] == dry["targetImage"].replace(dry["requestId"], real["requestId"])
    wavecli_await(wave_server, real)
    out = pulled_and_run(real["targetImage"], ["/bin/cat", "/dry"], tmp_path, podman, buildah, ctr=ctr)
    assert out["podman"] == out["buildah"] == out["ctr"] == f"{marker}\n"


def test_nextflow_scan_gets_waves_501_when_scanning_is_off(wave_server, busybox):
    response = httpx.post(f"{wave_server.url}/v1alpha2/container", json=client_body("nextflow_scan", containerImage=busybox))
    assert response.status_code == 501
    assert response.json()["message"] == "Security scan service is not enabled - Check Wave configuration setting 'wave.scan.enabled'"
