"""The towerAccessToken: valid, unknown, revoked; workspaces; endpoints."""

import pytest

from accounts.models import ApiToken
from containers.models import ContainerRequest
from tests.support.helpers import SERVER, post

pytestmark = pytest.mark.django_db


def test_only_a_hash_of_the_token_is_stored(owner):
    token, plaintext = ApiToken.issue(owner, "laptop")
    assert plaintext.startswith("wave_") and len(plaintext) > 40
    assert plaintext not in (token.token_hash, token.prefix) and token.prefix == plaintext[:12]


def test_a_valid_token_identifies_the_user(api, busybox, owner, owner_token):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "towerAccessToken": owner_token})
    assert response.status_code == 200
    assert ContainerRequest.objects.get(token=response.json()["containerToken"]).user == owner
    assert ApiToken.objects.get(user=owner).last_used_at is not None


def test_an_unknown_token_is_401(api, busybox):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "towerAccessToken": "wave_nope"})
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid towerAccessToken: the token is unknown or has been revoked"


def test_a_revoked_token_is_401(api, busybox, owner, owner_token):
    ApiToken.objects.get(user=owner).revoke()
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "towerAccessToken": owner_token})
    assert response.status_code == 401


def test_a_deactivated_users_token_is_401(api, busybox, owner, owner_token):
    owner.is_active = False
    owner.save()
    assert post(api, "/v1alpha2/container", {"containerImage": busybox, "towerAccessToken": owner_token}).status_code == 401


def test_a_workspace_the_user_is_not_in_is_403(api, busybox, workspace, outsider_token):
    body = {"containerImage": busybox, "towerAccessToken": outsider_token, "towerWorkspaceId": workspace.pk}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 403
    assert f"'{workspace.pk}'" in response.json()["message"]


def test_a_workspace_id_without_a_token_is_400(api, busybox, workspace):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "towerWorkspaceId": workspace.pk})
    assert response.status_code == 400
    assert "requires a towerAccessToken" in response.json()["message"]


def test_the_workspace_id_may_be_a_string_of_digits(api, busybox, workspace, owner_token):
    body = {"containerImage": busybox, "towerAccessToken": owner_token, "towerWorkspaceId": str(workspace.pk)}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200
    assert ContainerRequest.objects.get(token=response.json()["containerToken"]).workspace == workspace


@pytest.mark.parametrize("endpoint", [f"http://{SERVER}", f"http://{SERVER}/api", None])
def test_this_services_endpoint_or_none_is_accepted(api, busybox, owner_token, endpoint):
    body = {"containerImage": busybox, "towerAccessToken": owner_token, "towerEndpoint": endpoint}
    assert post(api, "/v1alpha2/container", body).status_code == 200


def test_an_endpoint_that_is_neither_this_service_nor_a_known_platform_is_400(api, busybox, owner_token):
    body = {"containerImage": busybox, "towerAccessToken": owner_token, "towerEndpoint": "https://platform.example.org"}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert "Unsupported towerEndpoint 'https://platform.example.org'" in response.json()["message"]


@pytest.mark.parametrize("endpoint", ["https://api.cloud.seqera.io", "https://api.tower.nf", "https://api.cloud.stage-seqera.io/"])
def test_the_clients_default_platform_endpoint_without_a_token_is_anonymous(api, busybox, endpoint):
    # Nextflow and wave-cli send Seqera Platform's endpoint unless told otherwise (api.tower.nf: the legacy name).
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "towerEndpoint": endpoint, "towerAccessToken": None})
    assert response.status_code == 200, response.json()
    assert ContainerRequest.objects.get(token=response.json()["containerToken"]).user is None


def test_a_token_of_this_service_with_the_platform_endpoint_is_its_user(api, busybox, owner, owner_token):
    body = {"containerImage": busybox, "towerAccessToken": owner_token, "towerEndpoint": "https://api.cloud.seqera.io"}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200
    assert ContainerRequest.objects.get(token=response.json()["containerToken"]).user == owner


def test_a_platform_token_says_which_endpoint_refused_it_and_what_to_change(api, busybox, platform):
    # `platform`: a fake Seqera Platform on loopback (tests/accounts/conftest.py); it refuses unknown tokens.
    body = {"containerImage": busybox, "towerAccessToken": "eyJ0aWQiOiAxfQ.platform-token", "towerEndpoint": platform.url}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 401
    message = response.json()["message"]
    assert f"Seqera Platform at {platform.url} refused" in message and "TOWER_ACCESS_TOKEN" in message
    assert "platform-token" not in message


def test_extra_endpoints_can_be_accepted_by_setting(api, busybox, owner_token, settings):
    settings.WAVE_ACCEPTED_TOWER_ENDPOINTS = ["https://api.cloud.seqera.io"]
    body = {"containerImage": busybox, "towerAccessToken": owner_token, "towerEndpoint": "https://api.cloud.seqera.io"}
    assert post(api, "/v1alpha2/container", body).status_code == 200
