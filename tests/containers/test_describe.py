"""GET/DELETE /container-token/{token}, GET /v1alpha2/container/{id} and /status."""

import base64

import pytest

from accounts.models import ApiToken
from builds.models import Build
from tests.support.factories import UserFactory, api_token
from tests.support.helpers import REGISTRY, SERVER, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(api, busybox):
    return post(api, "/v1alpha2/container", {"containerImage": busybox, "fingerprint": "f1"}).json()["containerToken"]


def test_describe_tells_the_request_source_and_wave_image(api, token, busybox):
    body = api.get(f"/container-token/{token}").json()
    assert body["token"] == token
    assert body["request"] == {"containerImage": busybox, "fingerprint": "f1"}
    assert body["source"]["image"] == busybox and body["source"]["digest"].startswith("sha256:")
    assert body["wave"]["image"] == f"{SERVER}/wt/{token}/library/busybox:latest"
    assert body["build"] is None
    assert api.get(f"/v1alpha2/container/{token}").json() == body


def test_status_of_a_proxy_request_is_done(api, token):
    body = api.get(f"/v1alpha2/container/{token}/status").json()
    assert body["id"] == token and body["status"] == "DONE" and body["succeeded"] is True


def test_status_follows_the_build(api):
    dockerfile = base64.b64encode(f"FROM {REGISTRY}/library/busybox\nRUN false\n".encode()).decode()
    body = post(api, "/v1alpha2/container", {"containerFile": dockerfile}).json()
    token, build_id = body["containerToken"], body["buildId"]
    assert api.get(f"/v1alpha2/container/{token}/status").json()["status"] == "PENDING"
    Build.objects.filter(pk=build_id).update(status=Build.Status.RUNNING)
    assert api.get(f"/v1alpha2/container/{token}/status").json()["status"] == "BUILDING"
    Build.objects.filter(pk=build_id).update(status=Build.Status.FAILED, reason="RUN false exited with 1")
    status = api.get(f"/v1alpha2/container/{token}/status").json()
    assert status["status"] == "DONE" and status["succeeded"] is False
    assert status["reason"] == "RUN false exited with 1"
    assert status["detailsUri"] == f"http://{SERVER}/view/builds/{build_id}"
    described = api.get(f"/container-token/{token}").json()
    assert described["build"]["buildId"] == build_id and described["build"]["succeeded"] is False


@pytest.mark.parametrize("path", ["/container-token/{}", "/v1alpha2/container/{}", "/v1alpha2/container/{}/status"])
def test_an_unknown_token_is_404(api, path):
    response = api.get(path.format("0123456789ab"))
    assert response.status_code == 404
    assert response.json()["message"] == "Unknown container token '0123456789ab'"


def test_delete_needs_credentials(api, token):
    response = api.delete(f"/container-token/{token}")
    assert response.status_code == 401
    assert response.json()["message"]


def test_delete_is_for_staff_only(api, token, outsider_token):
    response = api.delete(f"/container-token/{token}", HTTP_AUTHORIZATION=f"Bearer {outsider_token}")
    assert response.status_code == 403


def test_delete_with_a_revoked_token_is_401(api, token):
    staff = UserFactory(is_staff=True)
    plaintext = api_token(staff)
    ApiToken.objects.get(user=staff).revoke()
    assert api.delete(f"/container-token/{token}", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 401


def test_staff_revoke_a_token_and_it_is_gone(api, token):
    staff_token = api_token(UserFactory(is_staff=True))
    response = api.delete(f"/container-token/{token}", HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert response.status_code == 200
    assert api.get(f"/container-token/{token}").status_code == 404
    assert api.delete(f"/container-token/{token}", HTTP_AUTHORIZATION=f"Bearer {staff_token}").status_code == 404


def test_staff_may_revoke_from_an_admin_session(admin_client, token):
    assert admin_client.delete(f"/container-token/{token}").status_code == 200
