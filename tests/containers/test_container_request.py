"""POST /v1alpha2/container and POST /container-token for existing images (the proxy path)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from containers.models import ContainerRequest
from containers.services import wave_image_name
from oci.reference import parse_reference
from tests.support.helpers import SERVER, post

pytestmark = pytest.mark.django_db


def test_it_issues_a_token_and_a_target_image(api, busybox):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox})
    assert response.status_code == 200, response.json()
    body = response.json()
    token = body["containerToken"]
    assert re.fullmatch(r"[0-9a-f]{12}", token) and token.strip("0")
    assert body["requestId"] == token
    assert body["targetImage"] == f"{SERVER}/wt/{token}/library/busybox:latest"
    assert body["containerImage"] == busybox
    assert body["freeze"] is False and body["succeeded"] is True
    assert "buildId" not in body


def test_the_token_expires_after_36_hours(api, busybox):
    before = timezone.now()
    body = post(api, "/v1alpha2/container", {"containerImage": busybox}).json()
    expiration = parse_datetime(body["expiration"])
    assert body["expiration"].endswith("Z")
    assert before + timedelta(hours=36) <= expiration <= timezone.now() + timedelta(hours=36)


def test_tokens_are_unique(api, busybox):
    tokens = {post(api, "/v1alpha2/container", {"containerImage": busybox}).json()["containerToken"] for _ in range(5)}
    assert len(tokens) == 5


def test_the_request_is_stored_without_secrets_and_with_the_resolved_digest(api, busybox, owner, owner_token):
    response = api.post(
        "/v1alpha2/container",
        {"containerImage": busybox, "towerAccessToken": owner_token, "fingerprint": "abc"},
        format="json",
        REMOTE_ADDR="127.0.0.7",
        HTTP_USER_AGENT="nextflow/24.04",
    )
    assert response.status_code == 200
    stored = ContainerRequest.objects.get(token=response.json()["containerToken"])
    assert stored.user == owner and stored.org == "seqera.io"
    assert stored.ip_address == "127.0.0.7" and stored.user_agent == "nextflow/24.04"
    assert stored.request == {"containerImage": busybox, "fingerprint": "abc"}
    assert owner_token not in str(stored.request)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", stored.source_digest)
    assert stored.endpoint == "/v1alpha2/container"


def test_the_legacy_endpoint_answers_the_same_way(api, busybox):
    response = post(api, "/container-token", {"containerImage": busybox})
    assert response.status_code == 200
    assert response.json()["targetImage"].startswith(f"{SERVER}/wt/")
    assert ContainerRequest.objects.get(token=response.json()["containerToken"]).endpoint == "/container-token"


def test_a_digest_reference_keeps_its_digest(api, busybox):
    digest = post(api, "/v1alpha2/container", {"containerImage": busybox}).json()
    stored = ContainerRequest.objects.get(token=digest["containerToken"]).source_digest
    pinned = busybox.rsplit(":", 1)[0] + "@" + stored
    body = post(api, "/v1alpha2/container", {"containerImage": pinned}).json()
    assert body["targetImage"] == f"{SERVER}/wt/{body['containerToken']}/library/busybox@{stored}"


@pytest.mark.parametrize(
    "image, expected",
    [
        ("ubuntu", "library/ubuntu:latest"),
        ("quay.io/biocontainers/bwa:0.7.17", "biocontainers/bwa:0.7.17"),
        ("docker.io/user/tool:1", "user/tool:1"),
    ],
)


def test_target_images_drop_the_registry_and_gain_library_for_docker_hub(image, expected):
    assert wave_image_name("0123456789ab", parse_reference(image).path_and_reference) == f"{SERVER}/wt/0123456789ab/{expected}"


def test_a_missing_image_is_a_404_saying_so(api, registry):
    response = post(api, "/v1alpha2/container", {"containerImage": f"{registry}/library/nope:1.0"})
    assert response.status_code == 404
    assert response.json()["message"].startswith(f"Container image '{registry}/library/nope:1.0' does not exist")


def test_an_unreachable_registry_is_a_400_saying_so(api):
    response = post(api, "/v1alpha2/container", {"containerImage": "127.0.0.1:1/library/busybox:latest"})
    assert response.status_code == 400
    assert "cannot be checked" in response.json()["message"]
    assert "unreachable" in response.json()["message"]


def test_a_private_image_without_credentials_is_unauthorized(api, private_registry):
    response = post(api, "/v1alpha2/container", {"containerImage": private_registry.busybox})
    assert response.status_code == 400
    assert "is not accessible" in response.json()["message"]
    assert "no credentials are stored" in response.json()["message"]
