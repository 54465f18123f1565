"""The registry proxy end to end: real skopeo, umoci and podman against the service under uvicorn."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from django.utils import timezone

from builds.base_images import busybox_image
from containers.models import ContainerRequest
from containers.tokens import forget_token
from metrics.models import PullEvent
from oci.client import RegistryClient
from oci.digest import sha256_digest
from oci.image import new_image, new_index
from oci.platform import Platform
from tests.support.factories import UserFactory, api_token, registry_credential
from tests.support.helpers import own_registry_credentials, push, registry_auth, run
from tests.support.images import ADDED, data_layer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

@pytest.fixture(scope="module")
def entrypoint_image(registry) -> str:
    """busybox with an entrypoint of its own, to see it kept in WAVE_ENTRY_CHAIN."""
    base = busybox_image()
    image = new_image(list(base.layers), {"Env": ["PATH=/bin"], "Entrypoint": ["/bin/echo", "base"]}, Platform())
    push(registry, "library/echo", "latest", image)
    return f"{registry}/library/echo:latest"


def pulls_of(token: str, expected: int) -> list[PullEvent]:
    """The token's pull events once `expected` are written (they are written beside the response)."""
    deadline = time.monotonic() + 10
    while True:
        events = list(PullEvent.objects.filter(token=token))
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def copy(image: str, dest: Path, *extra: str) -> None:
    run("skopeo", "copy", "--src-tls-verify=false", *extra, f"docker://{image}", f"oci:{dest}:latest")


def layout_manifest(dest: Path) -> dict:
    index = json.loads((dest / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    return json.loads((dest / "blobs" / "sha256" / digest).read_text())


def test_a_plain_token_serves_the_upstream_manifest_byte_for_byte(wave_server, busybox, tmp_path):
    body = wave_server.request_container({"containerImage": busybox})
    image = body["targetImage"]
    assert image.startswith(f"{wave_server.authority}/wt/{body['containerToken']}/library/busybox:latest")
    copy(image, tmp_path / "plain")
    inspect = json.loads(run("skopeo", "inspect", "--tls-verify=false", f"docker://{image}").stdout)
    assert inspect["Digest"] == busybox_image().manifest.digest
    assert layout_manifest(tmp_path / "plain") == json.loads(busybox_image().manifest.raw)


def test_an_augmented_image_has_the_layer_env_entrypoint_and_workdir(wave_server, busybox, tmp_path):
    config = {"env": ["GREETING=hello"], "entrypoint": ["/bin/sh", "-c"], "cmd": ["echo hi"], "workingDir": "/work", "layers": [data_layer()]}
    image = wave_server.request_container({"containerImage": busybox, "containerConfig": config})["targetImage"]
    copy(image, tmp_path / "aug")
    config_out = json.loads(run("skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{image}").stdout)
    assert config_out["config"]["Env"][-1] == "GREETING=hello"
    assert config_out["config"]["Entrypoint"] == ["/bin/sh", "-c"]
    assert config_out["config"]["Cmd"] == ["echo hi"]
    assert config_out["config"]["WorkingDir"] == "/work"
    assert config_out["rootfs"]["diff_ids"][-1] == ADDED.tar_digest
    assert not any(e.startswith("WAVE_ENTRY_CHAIN=") for e in config_out["config"]["Env"])  # busybox had none

    manifest = layout_manifest(tmp_path / "aug")
    assert manifest["layers"][-1] == {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ADDED.gzip_digest, "size": ADDED.size}
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'aug'}:latest", str(tmp_path / "bundle"))
    assert (tmp_path / "bundle" / "rootfs" / "opt" / "added" / "hello.txt").read_text() == "hello from the added layer\n"
    assert (tmp_path / "bundle" / "rootfs" / "bin" / "busybox").exists()


def test_the_served_digest_is_the_digest_of_the_served_bytes(wave_server, busybox):
    body = wave_server.request_container({"containerImage": busybox, "containerConfig": {"env": ["X=1"]}})
    token = body["containerToken"]
    url = f"{wave_server.url}/v2/wt/{token}/library/busybox/manifests/latest"
    response = httpx.get(url)
    assert response.status_code == 200
    digest = response.headers["Docker-Content-Digest"]
    assert digest == sha256_digest(response.content)
    assert digest != busybox_image().manifest.digest
    by_digest = httpx.get(url.replace("/latest", f"/{digest}"))
    assert by_digest.content == response.content
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Docker-Content-Digest"] == digest and head.headers["Content-Length"] == str(len(response.content))
    config_digest = response.json()["config"]["digest"]
    config = httpx.get(f"{wave_server.url}/v2/wt/{token}/library/busybox/blobs/{config_digest}")
    assert sha256_digest(config.content) == config_digest and "X=1" in config.json()["config"]["Env"]
    assert ContainerRequest.objects.get(token=token).wave_digest == digest


def test_podman_runs_the_augmented_image(wave_server, busybox, podman):
    config = {
        "env": ["GREETING=hello-from-env"],
        "entrypoint": ["/bin/sh", "-c"],
        "cmd": ["cat /opt/added/hello.txt; echo $GREETING; pwd"],
        "workingDir": "/tmp",
        "layers": [data_layer()],
    }
    image = wave_server.request_container({"containerImage": busybox, "containerConfig": config})["targetImage"]
    output = podman("run", "--rm", "--tls-verify=false", image).stdout.splitlines()
    assert output == ["hello from the added layer", "hello-from-env", "/tmp"]


def test_a_replaced_entrypoint_is_kept_in_wave_entry_chain(wave_server, entrypoint_image, podman):
    config = {"entrypoint": ["/bin/sh", "-c", "echo chain=$WAVE_ENTRY_CHAIN"]}
    image = wave_server.request_container({"containerImage": entrypoint_image, "containerConfig": config})["targetImage"]
    assert podman("run", "--rm", "--tls-verify=false", image).stdout.strip() == "chain=/bin/echo base"


def test_pulls_are_recorded_once_per_single_image_manifest(wave_server, busybox, tmp_path, owner, owner_token):
    body = wave_server.request_container({"containerImage": busybox, "towerAccessToken": owner_token, "containerConfig": {"env": ["A=1"]}})
    copy(body["targetImage"], tmp_path / "counted")
    events = pulls_of(body["containerToken"], 1)
    assert len(events) == 1
    event = events[0]
    assert (event.user, event.org, event.image, event.platform, event.fusion) == (owner, "seqera.io", busybox, "linux/amd64", False)
    httpx.head(f"{wave_server.url}/v2/wt/{body['containerToken']}/library/busybox/manifests/latest")
    time.sleep(0.5)
    assert len(pulls_of(body["containerToken"], 1)) == 1  # HEAD is not a pull


def test_a_fusion_layer_makes_a_fusion_pull(wave_server, busybox):
    # The service process has the default WAVE_FUSION_PATTERN, which this location matches.
    layer = data_layer()
    body = wave_server.request_container({"containerImage": busybox})
    token = body["containerToken"]
    request = ContainerRequest.objects.get(token=token)
    request.container_config = {"layers": [{**layer, "location": "https://fusionfs.seqera.io/releases/v2.4-amd64.tar.gz"}]}
    request.save()
    forget_token(token)  # the cached record predates the change
    assert httpx.get(f"{wave_server.url}/v2/wt/{token}/library/busybox/manifests/latest").status_code == 200
    assert [event.fusion for event in pulls_of(token, 1)] == [True]


def test_an_index_is_augmented_for_the_requested_platform_only(wave_server, multiarch):
    body = wave_server.request_container({"containerImage": multiarch, "containerPlatform": "linux/arm64", "containerConfig": {"env": ["ARCH=arm"]}})
    base = f"{wave_server.url}/v2/wt/{body['containerToken']}/library/multiarch"
    index = httpx.get(f"{base}/manifests/latest")
    assert index.headers["Docker-Content-Digest"] == sha256_digest(index.content)
    host = multiarch.split("/")[0]
    upstream = httpx.get(
        f"http://{host}/v2/library/multiarch/manifests/latest", headers={"Accept": "application/vnd.oci.image.index.v1+json"}, auth=registry_auth(host)
    ).json()
    served = {m["platform"]["architecture"]: m for m in index.json()["manifests"]}
    original = {m["platform"]["architecture"]: m for m in upstream["manifests"]}
    assert served["amd64"] == original["amd64"]
    assert served["arm64"]["digest"] != original["arm64"]["digest"]
    child = httpx.get(f"{base}/manifests/{served['arm64']['digest']}")
    assert sha256_digest(child.content) == served["arm64"]["digest"] and len(child.content) == served["arm64"]["size"]
    config = httpx.get(f"{base}/blobs/{child.json()['config']['digest']}").json()
    assert config["architecture"] == "arm64" and "ARCH=arm" in config["config"]["Env"]
    untouched = httpx.get(f"{base}/manifests/{original['amd64']['digest']}")
    assert untouched.status_code == 200 and sha256_digest(untouched.content) == original["amd64"]["digest"]
    time.sleep(0.5)
    assert len(pulls_of(body["containerToken"], 2)) == 2  # two images, the index not counted


def test_a_platform_missing_from_the_index_is_an_error_naming_it(wave_server, registry):
    amd64 = busybox_image()
    index = new_index([(amd64, Platform("linux", "amd64"))])

    async def push_index():
        async with RegistryClient(registry, own_registry_credentials(registry)) as client:
            await client.push_manifest("library/amd64only", "latest", index)

    push(registry, "library/amd64only", amd64.manifest.digest, amd64)
    asyncio.run(push_index())
    body = wave_server.request_container({"containerImage": f"{registry}/library/amd64only:latest", "containerPlatform": "arm64", "containerConfig": {"env": ["A=1"]}})
    response = httpx.get(f"{wave_server.url}/v2/wt/{body['containerToken']}/library/amd64only/manifests/latest")
    assert response.status_code == 404
    error = response.json()["errors"][0]
    assert error["code"] == "MANIFEST_UNKNOWN" and "no manifest for platform linux/arm64" in error["message"]


def test_private_upstream_pulls_with_the_callers_credentials(wave_server, private_registry, tmp_path):
    user = UserFactory()
    token = api_token(user)
    credential = registry_credential(private_registry.host, private_registry.username, private_registry.password, user=user)
    body = wave_server.request_container({"containerImage": private_registry.busybox, "towerAccessToken": token})
    copy(body["targetImage"], tmp_path / "private")
    assert layout_manifest(tmp_path / "private") == json.loads(busybox_image().manifest.raw)

    # The same image for a token whose owner's credentials are gone: UNAUTHORIZED, readable.
    second = wave_server.request_container({"containerImage": private_registry.busybox, "towerAccessToken": token})
    credential.delete()
    result = subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", f"docker://{second['targetImage']}", f"oci:{tmp_path / 'denied'}:latest"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower() and "no credentials are stored" in result.stderr
    assert private_registry.password not in result.stderr


@pytest.mark.parametrize("state", ["unknown", "revoked", "expired", "other-name"])
def test_dead_tokens_get_a_registry_404(wave_server, busybox, state):
    token = wave_server.request_container({"containerImage": busybox})["containerToken"]
    name = "library/busybox"
    if state == "unknown":
        token = "0123456789ab"
    elif state == "revoked":
        staff = api_token(UserFactory(is_staff=True))
        assert httpx.delete(f"{wave_server.url}/container-token/{token}", headers={"Authorization": f"Bearer {staff}"}).status_code == 200
    elif state == "expired":
        ContainerRequest.objects.filter(token=token).update(expires_at=timezone.now())
        forget_token(token)
    else:
        name = "library/other"
    response = httpx.get(f"{wave_server.url}/v2/wt/{token}/{name}/manifests/latest")
    assert response.status_code == 404
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    error = response.json()["errors"][0]
    assert error["code"] == "NAME_UNKNOWN" and error["message"]


def test_v2_answers_without_an_auth_challenge(wave_server):
    response = httpx.get(f"{wave_server.url}/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert "www-authenticate" not in response.headers
    assert httpx.get(f"{wave_server.url}/v2/library/busybox/manifests/latest").json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_tags_list_gives_the_granted_tag(wave_server, busybox):
    token = wave_server.request_container({"containerImage": busybox})["containerToken"]
    body = httpx.get(f"{wave_server.url}/v2/wt/{token}/library/busybox/tags/list").json()
    assert body == {"name": f"wt/{token}/library/busybox", "tags": ["latest"]}


def test_other_tags_are_not_granted(wave_server, busybox):
    token = wave_server.request_container({"containerImage": busybox})["containerToken"]
    response = httpx.get(f"{wave_server.url}/v2/wt/{token}/library/busybox/manifests/other")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_blobs_support_ranges_upstream_and_local(wave_server, busybox):
    token = wave_server.request_container({"containerImage": busybox, "containerConfig": {"layers": [data_layer()]}})["containerToken"]
    base = f"{wave_server.url}/v2/wt/{token}/library/busybox/blobs"
    upstream_layer = busybox_image().layers[0]
    part = httpx.get(f"{base}/{upstream_layer.gzip_digest}", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == upstream_layer.gzip[10:20]
    local = httpx.get(f"{base}/{ADDED.gzip_digest}", headers={"Range": "bytes=5-"})
    assert local.status_code == 206 and local.content == ADDED.gzip[5:]
    assert local.headers["Content-Range"] == f"bytes 5-{ADDED.size - 1}/{ADDED.size}"
    whole = httpx.get(f"{base}/{ADDED.gzip_digest}")
    assert whole.status_code == 200 and whole.content == ADDED.gzip
    head = httpx.head(f"{base}/{upstream_layer.gzip_digest}")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(upstream_layer.size) and head.content == b""
    bad = httpx.get(f"{base}/{ADDED.gzip_digest}", headers={"Range": f"bytes={ADDED.size + 5}-"})
    assert bad.status_code == 416
    missing = httpx.get(f"{base}/sha256:{'9' * 64}")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
