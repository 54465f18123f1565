"""POST /v1alpha1/inspect against the real local registry."""

import json

import pytest

from builds.base_images import busybox_image
from tests.support.helpers import REGISTRY, post

pytestmark = pytest.mark.django_db


def test_it_returns_the_manifest_and_config_of_an_image(api, busybox, registry):
    response = post(api, "/v1alpha1/inspect", {"containerImage": busybox})
    assert response.status_code == 200, response.json()
    container = response.json()["container"]
    image = busybox_image()
    assert container["registry"] == registry
    assert container["hostName"] == f"http://{registry}"
    assert container["imageName"] == "library/busybox"
    assert container["reference"] == "latest"
    assert container["digest"] == image.manifest.digest
    assert container["manifest"] == json.loads(image.manifest.raw)
    assert container["config"]["architecture"] == "amd64"
    assert container["config"]["config"]["cmd"] == ["sh"]
    assert container["config"]["config"]["env"][0].startswith("PATH=")
    assert container["config"]["rootfs"]["diff_ids"] == [image.layers[0].tar_digest]
    assert (container["v1"], container["v2"], container["oci"]) == (False, False, True)


def test_an_index_without_a_platform_returns_the_index(api, multiarch):
    body = post(api, "/v1alpha1/inspect", {"containerImage": multiarch}).json()
    platforms = [m["platform"]["architecture"] for m in body["index"]["manifests"]]
    assert platforms == ["amd64", "arm64"]


def test_an_index_with_a_platform_returns_that_image(api, multiarch):
    response = api.post("/v1alpha1/inspect?platform=linux/arm64", {"containerImage": multiarch}, format="json")
    container = response.json()["container"]
    assert container["config"]["architecture"] == "arm64"
    assert container["config"]["config"]["cmd"] == ["cat", "/etc/arch"]


def test_an_unsupported_platform_is_400(api, multiarch):
    response = api.post("/v1alpha1/inspect?platform=s390x", {"containerImage": multiarch}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Unsupported container platform: s390x"


def test_a_missing_image_is_404(api, registry):
    response = post(api, "/v1alpha1/inspect", {"containerImage": f"{registry}/library/absent:1"})
    assert response.status_code == 404
    assert "does not exist" in response.json()["message"]


def test_a_private_image_uses_the_callers_credentials(api, owner, owner_token, private_registry):
    from tests.support.factories import registry_credential

    assert post(api, "/v1alpha1/inspect", {"containerImage": private_registry.busybox}).status_code == 400
    registry_credential(private_registry.host, private_registry.username, private_registry.password, user=owner)
    response = post(api, "/v1alpha1/inspect", {"containerImage": private_registry.busybox, "towerAccessToken": owner_token})
    assert response.status_code == 200
    assert response.json()["container"]["imageName"] == "private/busybox"


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "Invalid value for attribute 'containerImage': This field is required."),
        ({"containerImage": "NOPE"}, "'NOPE' is not a valid name component"),
        ({"containerImage": ["x"]}, "must be a string"),
        ({"containerImage": f"{REGISTRY}/a:1", "towerAccessToken": "bad"}, "Invalid towerAccessToken"),
    ],
)


def test_bad_inspect_requests(api, body, message):
    response = post(api, "/v1alpha1/inspect", body)
    assert response.status_code in (400, 401)
    assert message in response.json()["message"]
