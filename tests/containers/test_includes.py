"""`containerIncludes` (wave-cli `--include`): other images' layers added to the request as Wave does,
served from their own repositories by the pull path, and pulled and run by real clients."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from containers.models import ContainerRequest
from oci.image import new_image, new_index
from oci.layer import LayerBuilder
from oci.platform import Platform
from tests.support.bodies import client_body
from tests.support.helpers import REGISTRY, own_registry_credentials, post, push, run
from tests.support.images import include_image

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tools():
    return include_image("tools", {"opt/tools/hello.txt": b"hello from an included image\n", "opt/tools/bin/say": b"#!/bin/sh\necho said\n"})


@pytest.fixture(scope="module")
def data():
    return include_image("data", {"opt/data/set.txt": b"included data\n"})


def wavecli_body(busybox: str, includes: list[str]) -> dict:
    return client_body("wavecli_includes", containerImage=busybox, containerIncludes=includes)


def manifest_through_proxy(server, target: str) -> dict:
    path, tag = target.removeprefix(f"{server.authority}/").rsplit(":", 1)
    response = httpx.get(
        f"{server.url}/v2/{path}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_included_layers_follow_the_requests_own_in_order(api, busybox, tools, data):
    response = post(api, "/v1alpha2/container", wavecli_body(busybox, [tools[0], data[0]]))
    assert response.status_code == 200, response.json()
    stored = ContainerRequest.objects.get(token=response.json()["requestId"])
    expected = [
        {
            "location": f"docker://{REGISTRY}/v2/include/{name}/blobs/{layer['digest']}",
            "gzipDigest": layer["digest"], "gzipSize": layer["size"], "tarDigest": diff_id,
        }
        for name, image in (("tools", tools[1]), ("data", data[1]))
        for layer, diff_id in zip(image.manifest.json["layers"], json.loads(image.config)["rootfs"]["diff_ids"])
    ]
    assert stored.container_config == {"env": ["FROM_REQUEST=yes"], "layers": expected}
    assert len(expected) == 3


def test_more_than_ten_inclusions_are_refused_with_waves_message(api, busybox):
    response = post(api, "/v1alpha2/container", wavecli_body(busybox, [busybox] * 100))
    assert response.status_code == 400
    assert response.json()["message"] == "The number of container inclusions cannot be greater than 10"


def test_the_inclusion_limit_is_a_setting(api, busybox, settings):
    settings.WAVE_MAX_INCLUDES = 2
    response = post(api, "/v1alpha2/container", wavecli_body(busybox, [busybox] * 3))
    assert response.status_code == 400
    assert response.json()["message"] == "The number of container inclusions cannot be greater than 2"


def test_a_nonexistent_image_is_refused_naming_it(api, busybox):
    missing = f"{REGISTRY}/include/nothing-here:{uuid.uuid4().hex[:8]}"
    response = post(api, "/v1alpha2/container", wavecli_body(busybox, [missing]))
    assert response.status_code == 404
    assert response.json()["message"].startswith(f"Container image '{missing}' does not exist")


def test_a_private_image_without_credentials_is_refused(api, busybox, private_registry):
    response = post(api, "/v1alpha2/container", wavecli_body(busybox, [private_registry.busybox]))
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith(f"Container image '{private_registry.busybox}' is not accessible")
    assert private_registry.password not in message


def test_an_index_without_the_requested_platform_is_refused(api, busybox):
    arm64 = new_image([LayerBuilder().add_file("etc/arch", b"arm64\n").build()], {}, Platform("linux", "arm64"))
    tag = uuid.uuid4().hex[:12]
    push(REGISTRY, "include/armonly", arm64.manifest.digest, arm64)
    index = new_index([(arm64, Platform("linux", "arm64"))])

    import asyncio

    from oci.client import RegistryClient

    async def push_index() -> None:
        async with RegistryClient(REGISTRY, own_registry_credentials(REGISTRY)) as client:
            await client.push_manifest("include/armonly", tag, index)

    asyncio.run(push_index())
    image = f"{REGISTRY}/include/armonly:{tag}"
    response = post(api, "/v1alpha2/container", wavecli_body(busybox, [image]))
    assert response.status_code == 400
    assert response.json()["message"] == f"Container image '{image}' cannot be included: it has no manifest for platform linux/amd64"
    single = f"{REGISTRY}/include/armonly@{arm64.manifest.digest}"
    response = post(api, "/v1alpha2/container", wavecli_body(busybox, [single]))
    assert response.status_code == 400
    assert response.json()["message"] == f"Container image '{single}' cannot be included: it is a linux/arm64 image, not linux/amd64"


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"freeze": True, "buildRepository": f"{REGISTRY}/frozen"}, "Attributes 'containerIncludes' and 'freeze' cannot be used together"),
        ({"containerImage": f"{REGISTRY}/library/busybox@sha256:{'a' * 64}", "containerConfig": None}, "is pinned by digest and cannot be combined with 'containerIncludes'"),
    ],
)


def test_includes_are_refused_where_they_cannot_apply(api, busybox, tools, extra, message):
    response = post(api, "/v1alpha2/container", {**wavecli_body(busybox, [tools[0]]), **extra})
    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.parametrize("include", ["", "not an image", "http://example.com/x", 7])
def test_a_bad_reference_is_refused_naming_it(api, busybox, include):
    response = post(api, "/v1alpha2/container", wavecli_body(busybox, [include]))
    assert response.status_code == 400
    assert "containerIncludes" in response.json()["message"] or str(include) in response.json()["message"]


def test_a_request_cannot_name_a_blob_location_itself(api, busybox):
    """Only the service writes `docker://` locations (after reading the image as the caller)."""
    layer = {"location": f"docker://{REGISTRY}/v2/private/secret/blobs/sha256:{'b' * 64}",
             "gzipDigest": f"sha256:{'b' * 64}", "gzipSize": 10, "tarDigest": f"sha256:{'c' * 64}"}
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "containerConfig": {"layers": [layer]}})
    assert response.status_code == 400
    assert "must be an http(s):// URL or a data: URI" in response.json()["message"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_included_files_are_pulled_and_run_by_skopeo_umoci_and_podman(wave_server, busybox, tools, data, podman, tmp_path):
    answer = wave_server.request_container(wavecli_body(busybox, [tools[0], data[0]]))
    manifest = manifest_through_proxy(wave_server, answer["targetImage"])
    included = [layer["digest"] for image in (tools[1], data[1]) for layer in image.manifest.json["layers"]]
    assert [layer["digest"] for layer in manifest["layers"]][-3:] == included

    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{answer['targetImage']}", f"oci:{tmp_path / 'image'}:latest")
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'image'}:latest", str(tmp_path / "bundle"))
    rootfs = tmp_path / "bundle" / "rootfs"
    assert (rootfs / "opt/tools/hello.txt").read_text() == "hello from an included image\n"
    assert (rootfs / "opt/data/set.txt").read_text() == "included data\n"
    assert (rootfs / "bin/busybox").exists()  # the base image's own layer
    env = json.loads((tmp_path / "bundle" / "config.json").read_text())["process"]["env"]
    assert "FROM_REQUEST=yes" in env and not any(e.startswith("TOOLS_ENV=") for e in env)  # Wave merges layers only

    out = podman("run", "--rm", "--tls-verify=false", "--network", "none", answer["targetImage"],
                 "sh", "-c", "cat /opt/tools/hello.txt /opt/data/set.txt; echo $FROM_REQUEST")
    assert out.stdout == "hello from an included image\nincluded data\nyes\n"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_built_image_gets_the_included_layers_when_pulled(wave_server, build_worker, tools, tmp_path):
    import base64

    dockerfile = f"FROM {REGISTRY}/library/busybox\nRUN echo {uuid.uuid4().hex} > /built\n"
    answer = wave_server.request_container({"containerFile": base64.b64encode(dockerfile.encode()).decode(), "containerIncludes": [tools[0]]})
    assert answer["buildId"]
    # The pull waits for the build, then serves the built image with the included layers on top.
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{answer['targetImage']}", f"oci:{tmp_path / 'image'}:latest")
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'image'}:latest", str(tmp_path / "bundle"))
    rootfs = tmp_path / "bundle" / "rootfs"
    assert (rootfs / "built").exists() and (rootfs / "opt/tools/hello.txt").read_text() == "hello from an included image\n"
