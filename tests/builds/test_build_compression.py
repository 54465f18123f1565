"""`buildCompression` from the clients' bodies: zstd layers pushed by buildah and pulled by skopeo and
podman; what the builders cannot do is a 400 naming it."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from builds.models import Build
from tests.support.bodies import client_body
from tests.support.helpers import dockerfile, post, registry_auth, run, wait_until

OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


@pytest.mark.django_db
@pytest.mark.parametrize("client", ["nextflow_compression", "wavecli_compression"])
def test_the_clients_zstd_request_is_recorded_on_the_build(api, client):
    response = post(api, "/v1alpha2/container", client_body(client, containerFile=dockerfile(uuid.uuid4().hex)))
    assert response.status_code == 200, response.json()
    assert Build.objects.get(pk=response.json()["buildId"]).context == {"compression": {"mode": "zstd"}}


@pytest.mark.django_db
@pytest.mark.parametrize("compression", [None, {"mode": "gzip"}, {"mode": "gzip", "level": None, "force": False}])
def test_the_default_compression_records_nothing(api, compression):
    body = client_body("nextflow_compression", containerFile=dockerfile(uuid.uuid4().hex), buildCompression=compression)
    assert Build.objects.get(pk=post(api, "/v1alpha2/container", body).json()["buildId"]).context == {}


@pytest.mark.django_db
def test_compression_is_not_part_of_the_build_id_as_in_wave(api):
    recipe = dockerfile(uuid.uuid4().hex)
    gzip = post(api, "/v1alpha2/container", client_body("nextflow_compression", containerFile=recipe, buildCompression=None)).json()
    zstd = post(api, "/v1alpha2/container", client_body("nextflow_compression", containerFile=recipe)).json()
    assert zstd["buildId"] == gzip["buildId"]


@pytest.mark.django_db
def test_a_level_is_passed_on(api):
    body = client_body("nextflow_compression", containerFile=dockerfile(uuid.uuid4().hex), buildCompression={"mode": "zstd", "level": 19, "force": None})
    assert Build.objects.get(pk=post(api, "/v1alpha2/container", body).json()["buildId"]).context == {"compression": {"mode": "zstd", "level": 19}}


@pytest.mark.django_db
def test_an_image_request_accepts_compression_it_has_no_layers_to_apply_to(api, busybox):
    """Nextflow sends its `wave.build.compression` with every request, images included (as Wave, no build, nothing to compress)."""
    body = client_body("nextflow_image", containerImage=busybox, buildCompression={"mode": "zstd", "level": None, "force": None})
    assert post(api, "/v1alpha2/container", body).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "compression, message",
    [
        ({"mode": "estargz", "level": None, "force": None}, "buildCompression mode 'estargz' is not supported by this service"),
        ({"mode": "zstd", "level": None, "force": True}, "buildCompression 'force' is not supported by this service"),
        ({"mode": "zstd", "level": 23, "force": None}, "23 is not a zstd compression level: use 0 to 22"),
        ({"mode": "gzip", "level": 10}, "10 is not a gzip compression level: use 0 to 9"),
        ({"level": -1}, "-1 is not a gzip compression level"),
        ({"mode": "brotli"}, "unsupported compression mode 'brotli'; use one of gzip, zstd, estargz"),
        ({"mode": "ZSTD"}, "unsupported compression mode 'ZSTD'"),
        ({"mode": "zstd", "level": "high"}, "must be an integer, not high"),
        ({"mode": "zstd", "force": "yes"}, "must be true or false, not yes"),
        ("zstd", "'buildCompression': must be an object, not zstd"),
    ],
)


def test_compression_the_builder_cannot_apply_is_400_naming_it(api, compression, message):
    body = client_body("nextflow_compression", containerFile=dockerfile(uuid.uuid4().hex), buildCompression=compression)
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400, response.json()
    assert message in response.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("compression", [{"mode": "zstd"}, {"mode": "gzip", "level": 1}])
def test_the_conda_builder_refuses_compression_it_cannot_apply(api, compression):
    body = {**client_body("wavecli_conda"), "buildCompression": compression}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert f"buildCompression mode '{compression['mode']}'" in response.json()["message"]
    assert "conda/micromamba:v2" in response.json()["message"]


def manifest_of(image: str) -> dict:
    repository, tag = image.rsplit(":", 1)
    host, path = repository.split("/", 1)
    response = httpx.get(
        f"http://{host}/v2/{path}/manifests/{tag}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, auth=registry_auth(host)
    )
    assert response.status_code == 200
    return response.json()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("client", ["nextflow_compression", "wavecli_compression"])
def test_a_zstd_build_pushes_zstd_layers_that_skopeo_and_podman_pull_and_run(wave_server, build_worker, registry, podman, tmp_path, client):
    marker = uuid.uuid4().hex
    body = wave_server.request_container(client_body(client, containerFile=dockerfile(marker)))

    def completed():
        status = httpx.get(f"{wave_server.url}/v1alpha1/builds/{body['buildId']}/status").json()
        return status if status["status"] == "COMPLETED" else None

    assert wait_until(completed, timeout=180)["succeeded"] is True
    build = Build.objects.get(pk=body["buildId"])
    layers = manifest_of(build.target_image)["layers"]
    base = manifest_of(f"{registry}/library/busybox:latest")["layers"]
    # The RUN step's layer is zstd; the base image's layers the registry holds are pushed as they are.
    assert layers[-1]["mediaType"] == OCI_ZSTD
    assert [layer["digest"] for layer in layers[:-1]] == [layer["digest"] for layer in base]
    assert OCI_ZSTD not in {layer["mediaType"] for layer in base}

    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{body['targetImage']}", f"oci:{tmp_path / 'built'}:latest")
    index = json.loads((tmp_path / "built" / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    copied = json.loads((tmp_path / "built" / "blobs" / "sha256" / digest).read_text())
    assert copied["layers"][-1]["mediaType"] == OCI_ZSTD
    assert podman("run", "--rm", "--tls-verify=false", body["targetImage"], "cat", "/marker").stdout == f"{marker}\n"
