"""Conda images assembled with py-rattler from a real (test-made) channel, pulled and run."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import uuid

import httpx
import pytest
from django.conf import settings

from builds.models import Build
from tests.support.builds import conda_request, pull_sif
from tests.support.helpers import completed, registry_auth, run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def layer_digests(image: str) -> list[str]:
    repository, tag = image.rsplit(":", 1)
    host, path = repository.split("/", 1)
    manifest = httpx.get(
        f"http://{host}/v2/{path}/manifests/{tag}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, auth=registry_auth(host)
    ).json()
    return [layer["digest"] for layer in manifest["layers"]]


def test_a_conda_image_runs_its_package_program(wave_server, build_worker, conda_channel, busybox, podman):
    body = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-hello"]))
    status = completed(wave_server, body["buildId"])
    logs = httpx.get(f"{wave_server.url}/v1alpha1/builds/{body['buildId']}/logs").text
    assert status["succeeded"] is True, logs
    assert body["targetImage"].endswith(f":wavetest-hello--{body['buildId'][:16]}")
    output = podman("run", "--rm", "--tls-verify=false", body["targetImage"], "wavetest-hello").stdout
    assert output.strip() == "hello from wavetest, installed in /opt/conda"


def test_the_lock_lists_every_package_with_its_checksum(wave_server, build_worker, conda_channel, busybox):
    body = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-hello"]))
    completed(wave_server, body["buildId"])
    lock = httpx.get(f"{wave_server.url}/v1alpha1/builds/{body['buildId']}/condalock").text
    lines = [line for line in lock.splitlines() if not line.startswith("#")]
    assert lines[0] == "@EXPLICIT"
    urls = dict(line.split("#sha256:") for line in lines[1:])
    assert set(urls) == {f"{conda_channel}/noarch/wavetest-hello-1.0-0.tar.bz2", f"{conda_channel}/noarch/wavetest-lib-1.0-0.tar.bz2"}
    for url, sha in urls.items():
        assert hashlib.sha256(httpx.get(url).content).hexdigest() == sha
    conda_lock = httpx.get(f"{wave_server.url}/v1alpha1/builds/{body['buildId']}/condalock?format=yaml").text
    assert "manager: conda" in conda_lock and "wavetest-lib" in conda_lock


def test_a_placeholder_file_has_the_image_prefix(wave_server, build_worker, conda_channel, busybox, tmp_path):
    body = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-lib"]))
    assert completed(wave_server, body["buildId"])["succeeded"] is True
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{body['targetImage']}", f"oci:{tmp_path / 'img'}:latest")
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'img'}:latest", str(tmp_path / "bundle"))
    rootfs = tmp_path / "bundle" / "rootfs"
    assert (rootfs / "opt/conda/share/wavetest/prefix.txt").read_text() == "/opt/conda\n"
    meta = json.loads(next((rootfs / "opt/conda/conda-meta").glob("wavetest-lib-*.json")).read_text())
    assert "extracted_package_dir" not in meta  # no path of the worker leaks into the image
    config = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert config["process"]["env"][0].startswith("PATH=/opt/conda/bin:") and "CONDA_PREFIX=/opt/conda" in config["process"]["env"]


def test_the_same_request_twice_is_cached(wave_server, build_worker, conda_channel, busybox):
    request = conda_request(conda_channel, busybox, ["wavetest-extra"])
    first = wave_server.request_container(request)
    completed(wave_server, first["buildId"])
    second = wave_server.request_container(request)
    assert second["cached"] is True and second["buildId"] == first["buildId"]


def test_images_sharing_a_package_share_its_layer(wave_server, build_worker, conda_channel, busybox):
    a = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-hello"]))
    b = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-lib", "wavetest-extra"]))
    completed(wave_server, a["buildId"]), completed(wave_server, b["buildId"])
    layers_a = layer_digests(Build.objects.get(pk=a["buildId"]).target_image)
    layers_b = layer_digests(Build.objects.get(pk=b["buildId"]).target_image)
    # busybox + wavetest-hello + wavetest-lib + conda-meta; busybox + wavetest-extra + wavetest-lib + conda-meta
    assert len(layers_a) == 4 and len(layers_b) == 4
    shared = set(layers_a) & set(layers_b)
    assert len(shared) == 2  # the base layer and wavetest-lib's layer


def test_an_unsolvable_spec_fails_with_the_solvers_message(wave_server, build_worker, conda_channel, busybox):
    body = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-hello >=9"]))
    status = completed(wave_server, body["buildId"])
    assert status["succeeded"] is False
    build = Build.objects.get(pk=body["buildId"])
    assert build.reason.startswith("The conda environment cannot be solved") and "wavetest-hello" in build.reason
    assert build.reason in build.log


def test_arm64_is_solved_and_installed_for_aarch64_without_emulation(wave_server, build_worker, conda_channel, multiarch, registry_authfile, tmp_path):
    body = wave_server.request_container(conda_request(conda_channel, multiarch, ["wavetest-arch"], containerPlatform="linux/arm64"))
    assert completed(wave_server, body["buildId"])["succeeded"] is True
    image = Build.objects.get(pk=body["buildId"]).target_image
    config = json.loads(run("skopeo", "inspect", "--config", "--tls-verify=false", "--authfile", registry_authfile, f"docker://{image}").stdout)
    assert config["architecture"] == "arm64"
    lock = Build.objects.get(pk=body["buildId"]).condalock
    assert "/linux-aarch64/wavetest-arch-1.0-0.tar.bz2" in lock
    run("skopeo", "copy", "--src-tls-verify=false", "--src-authfile", registry_authfile, f"docker://{image}", f"oci:{tmp_path / 'arm'}:latest")
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'arm'}:latest", str(tmp_path / "bundle"))
    rootfs = tmp_path / "bundle" / "rootfs"
    assert (rootfs / "etc/arch").read_text() == "arm64\n"  # the arm64 entry of the base index
    assert (rootfs / "opt/conda/share/wavetest/arch").read_text() == "linux-aarch64\n"


def test_a_base_image_of_another_architecture_fails_the_build(wave_server, build_worker, conda_channel, busybox):
    body = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-arch"], containerPlatform="linux/arm64"))
    assert completed(wave_server, body["buildId"])["succeeded"] is False
    assert "is for amd64, not arm64" in Build.objects.get(pk=body["buildId"]).reason


def test_conda_commands_run_in_one_more_step_on_top(wave_server, build_worker, conda_channel, busybox, podman):
    request = conda_request(conda_channel, busybox, ["wavetest-hello"])
    request["packages"]["condaOpts"]["commands"] = ["RUN wavetest-hello > /opt/greeting.txt"]
    body = wave_server.request_container(request)
    status = completed(wave_server, body["buildId"])
    assert status["succeeded"] is True, httpx.get(f"{wave_server.url}/v1alpha1/builds/{body['buildId']}/logs").text
    output = podman("run", "--rm", "--tls-verify=false", body["targetImage"], "cat", "/opt/greeting.txt").stdout
    assert output.strip() == "hello from wavetest, installed in /opt/conda"


def sif_request(channel: str, base: str, entries: list[str], platform: str) -> dict:
    request = conda_request(channel, base, entries, format="sif", containerPlatform=platform, freeze=True)
    request["buildRepository"] = f"{settings.WAVE_DEFAULT_REGISTRY}/sif/{uuid.uuid4().hex[:10]}"
    return request


def sif_rootfs(sif, dest):
    """The SIF's primary partition, loop-mounted when the machine allows it, else unpacked."""
    listing = run("siftool", "list", str(sif)).stdout
    partition = next(line for line in listing.splitlines() if "FS" in line or "Squashfs" in line)
    object_id = partition.split()[0].strip("|")
    squashfs = dest / "rootfs.squashfs"
    with squashfs.open("wb") as out:
        subprocess.run(["siftool", "dump", object_id, str(sif)], stdout=out, check=True)
    mountpoint = dest / "mnt"
    mountpoint.mkdir()
    if subprocess.run(["mount", "-o", "loop,ro", str(squashfs), str(mountpoint)], capture_output=True).returncode == 0:
        return mountpoint, listing, True
    run("unsquashfs", "-no-progress", "-d", str(dest / "unpacked"), str(squashfs))
    return dest / "unpacked", listing, False


def test_the_reference_singularity_example_gives_an_oras_sif(wave_server, build_worker, conda_channel, multiarch, tmp_path):
    """The reference's second example: format sif, arm64, conda, freeze, buildRepository."""
    request = sif_request(conda_channel, multiarch, ["wavetest-arch"], "arm64")
    body = wave_server.request_container(request)
    assert body["targetImage"] == f"oras://{request['buildRepository']}:wavetest-arch--{body['buildId'][:16]}"
    assert body["freeze"] is True and "containerToken" not in body
    assert completed(wave_server, body["buildId"])["succeeded"] is True, Build.objects.get(pk=body["buildId"]).log
    sif = pull_sif(body["targetImage"], tmp_path)
    rootfs, listing, mounted = sif_rootfs(sif, tmp_path)
    try:
        assert "arm64" in listing
        assert (rootfs / "opt/conda/share/wavetest/arch").read_text() == "linux-aarch64\n"
        assert (rootfs / ".singularity.d/runscript").exists()
        assert "CONDA_PREFIX=/opt/conda" in (rootfs / ".singularity.d/env/10-docker2singularity.sh").read_text().replace("'", "")
    finally:
        if mounted:
            subprocess.run(["umount", str(rootfs)])


def test_a_sif_runs_a_program_of_its_conda_environment_in_a_chroot(wave_server, build_worker, conda_channel, busybox, tmp_path):
    body = wave_server.request_container(sif_request(conda_channel, busybox, ["wavetest-hello"], "linux/amd64"))
    assert completed(wave_server, body["buildId"])["succeeded"] is True
    rootfs, _, mounted = sif_rootfs(pull_sif(body["targetImage"], tmp_path), tmp_path)
    try:
        output = run("chroot", str(rootfs), "/bin/sh", "-c", ". /.singularity.d/env/10-docker2singularity.sh && wavetest-hello").stdout
        assert output.strip() == "hello from wavetest, installed in /opt/conda"
    finally:
        if mounted:
            subprocess.run(["umount", str(rootfs)])


def test_a_given_lock_installs_exactly_its_packages(wave_server, build_worker, conda_channel, busybox, podman):
    first = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-hello"]))
    completed(wave_server, first["buildId"])
    lock = httpx.get(f"{wave_server.url}/v1alpha1/builds/{first['buildId']}/condalock").text
    request = conda_request(conda_channel, busybox, [])
    del request["packages"]["entries"]
    request["packages"]["environment"] = base64.b64encode(lock.encode()).decode()
    body = wave_server.request_container(request)
    assert body["targetImage"].endswith(f":wavetest-hello-1.0_wavetest-lib-1.0--{body['buildId'][:16]}")
    assert completed(wave_server, body["buildId"])["succeeded"] is True
    build = Build.objects.get(pk=body["buildId"])
    assert "given lock" in build.log and "Solving" not in build.log
    assert sorted(build.condalock.splitlines()[1:]) == sorted(line for line in lock.splitlines() if line.startswith("http"))
    assert podman("run", "--rm", "--tls-verify=false", body["targetImage"], "wavetest-hello").stdout.strip().endswith("/opt/conda")


def test_a_lock_whose_checksum_does_not_match_fails_the_build(wave_server, build_worker, conda_channel, busybox):
    lock = f"@EXPLICIT\n{conda_channel}/noarch/wavetest-lib-1.0-0.tar.bz2#sha256:{'0' * 64}\n"
    request = conda_request(conda_channel, busybox, [])
    del request["packages"]["entries"]
    request["packages"]["environment"] = base64.b64encode(lock.encode()).decode()
    body = wave_server.request_container(request)
    assert completed(wave_server, body["buildId"])["succeeded"] is False
    assert "has sha256 " in Build.objects.get(pk=body["buildId"]).reason and f"not {'0' * 64}" in Build.objects.get(pk=body["buildId"]).reason


def test_a_lock_given_by_url_installs_exactly_its_packages(wave_server, build_worker, conda_channel, busybox, tmp_path):
    from tests.support.conda_channel import serve

    first = wave_server.request_container(conda_request(conda_channel, busybox, ["wavetest-lib"]))
    completed(wave_server, first["buildId"])
    (tmp_path / "env.lock").write_text(httpx.get(f"{wave_server.url}/v1alpha1/builds/{first['buildId']}/condalock").text)
    url, server = serve(tmp_path)
    try:
        body = wave_server.request_container(conda_request(conda_channel, busybox, [f"{url}/env.lock"]))
        assert completed(wave_server, body["buildId"])["succeeded"] is True
        build = Build.objects.get(pk=body["buildId"])
        assert "given lock" in build.log and build.condalock.splitlines()[1].startswith(f"{conda_channel}/noarch/wavetest-lib-1.0-0")
    finally:
        server.shutdown()
