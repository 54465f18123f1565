"""containerConfig.layers: verified against their digests and size before a token is issued."""

import base64

import pytest

from builds.blobs import read_blob
from builds.models import StoredBlob
from containers.models import ContainerRequest
from oci.layer import LayerBuilder
from tests.support.helpers import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def layer():
    return LayerBuilder().add_file("opt/added/hello.txt", b"hello from an added layer\n").build()


def layer_body(layer, **overrides):
    return {
        "location": "data:" + base64.b64encode(layer.gzip).decode(),
        "gzipDigest": layer.gzip_digest,
        "gzipSize": layer.size,
        "tarDigest": layer.tar_digest,
        **overrides,
    }


def test_a_valid_data_layer_is_stored_and_the_request_keeps_no_inline_data(api, busybox, layer):
    body = {"containerImage": busybox, "containerConfig": {"layers": [layer_body(layer)], "env": ["A=1"]}}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    assert read_blob(layer.gzip_digest) == layer.gzip
    stored = ContainerRequest.objects.get(token=response.json()["containerToken"])
    assert stored.container_config["layers"][0]["location"] == f"data:<{layer.size} bytes>"
    assert stored.request["containerConfig"]["layers"][0]["location"] == f"data:<{layer.size} bytes>"
    assert stored.container_config["env"] == ["A=1"]


def test_nextflows_request_with_every_unset_field_null_is_accepted(api, busybox, layer):
    # Groovy's JsonOutput writes every property of Nextflow's SubmitContainerTokenRequest, unset ones as
    # null: a bundle or Fusion layer's skipHashing, the all-null parts of containerConfig, and the rest.
    body = {
        "towerAccessToken": None, "towerRefreshToken": None, "towerWorkspaceId": None,
        "towerEndpoint": "https://api.cloud.seqera.io", "workflowId": None,
        "containerImage": busybox, "containerFile": None,
        "containerConfig": {"entrypoint": None, "cmd": None, "env": None, "workingDir": None,
                            "layers": [{**layer_body(layer), "skipHashing": None}]},
        "condaFile": None, "spackFile": None, "containerPlatform": "linux/amd64", "buildRepository": None,
        "cacheRepository": None, "timestamp": "2026-11-27T10:00:00.000000+01:00", "fingerprint": "0" * 32,
        "freeze": False, "format": None, "dryRun": False, "containerIncludes": None, "packages": None,
        "nameStrategy": None, "mirror": False, "scanMode": None, "scanLevels": None, "buildContext": None,
        "buildCompression": None, "buildTemplate": None,
    }
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    assert ContainerRequest.objects.get(token=response.json()["containerToken"]).user is None


@pytest.mark.parametrize(
    "override, message",
    [
        ({"gzipSize": 10}, lambda layer: f"Layer 0: gzipSize is 10 but the content is {layer.size} bytes"),
        ({"gzipDigest": "sha256:" + "0" * 64}, lambda layer: f"gzipDigest is sha256:{'0' * 64} but the content digest is {layer.gzip_digest}"),
        ({"tarDigest": "sha256:" + "1" * 64}, lambda layer: f"tarDigest is sha256:{'1' * 64} but the uncompressed digest is {layer.tar_digest}"),
        ({"location": "data:!!!notbase64"}, lambda layer: "Layer 0: the data: location is not valid base64"),
    ],
)


def test_a_layer_that_does_not_match_is_refused(api, busybox, layer, override, message):
    body = {"containerImage": busybox, "containerConfig": {"layers": [layer_body(layer, **override)]}}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert message(layer) in response.json()["message"]
    assert not StoredBlob.objects.filter(digest=layer.gzip_digest).exists()


def test_a_layer_that_is_not_gzip_is_refused(api, busybox):
    from oci.digest import sha256_digest

    data = b"plain text, not gzip"
    body = {
        "containerImage": busybox,
        "containerConfig": {
            "layers": [
                {"location": "data:" + base64.b64encode(data).decode(), "gzipDigest": sha256_digest(data),
                 "gzipSize": len(data), "tarDigest": "sha256:" + "2" * 64}
            ]
        },
    }
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert response.json()["message"] == "Layer 0: the content is not gzip data"
