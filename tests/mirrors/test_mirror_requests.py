"""`mirror: true` requests: Wave's validation messages, its answer, the record, and the copy job run in
process (the job is a plain function; the worker end to end is in test_mirror_copy.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from containers.tokens import load_token
from mirrors.jobs import reap_stale_mirrors, run_mirror
from mirrors.models import Mirror
from oci.auth import Credentials
from oci.client import RegistryClient
from oci.reference import parse_repository
from tests.support.bodies import client_body
from tests.support.factories import MirrorFactory, registry_credential
from tests.support.helpers import REGISTRY, free_port, own_registry_credentials, post
from wave_site.housekeeping import run_once

pytestmark = pytest.mark.django_db


def mirror_body(image: str, repository: str | None, token: str | None, **extra) -> dict:
    body = {"containerImage": image, "mirror": True, **extra}
    if repository is not None:
        body["buildRepository"] = repository
    if token is not None:
        body["towerAccessToken"] = token
    return body


def manifest_digest(host: str, path: str, reference: str, credentials: Credentials | None) -> str:
    async def read() -> str:
        async with RegistryClient(host, credentials) as client:
            return (await client.get_manifest(path, reference)).digest

    return asyncio.run(read())


@pytest.fixture
def target(private_registry, owner) -> str:
    """A repository in another registry (the private one), with the owner's credentials stored for it."""
    registry_credential(private_registry.host, private_registry.username, private_registry.password, user=owner)
    return f"{private_registry.host}/m-{uuid.uuid4().hex[:8]}"  # the registry outlives the test


# --- validation: Wave's messages, in Wave's order ----------------------------------------------------

def test_the_legacy_endpoint_refuses_mirroring(api, busybox, owner_token, target):
    response = post(api, "/container-token", mirror_body(busybox, target, owner_token))
    assert response.status_code == 400
    assert response.json()["message"] == "Container mirroring requires the use of v2 API"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"containerImage": None}, "Attribute `containerImage` is required when specifying `mirror` mode"),
        ({"towerAccessToken": None}, "Container mirroring requires an authenticated request - specify the tower token attribute"),
        ({"freeze": True}, "Attribute `mirror` and `freeze` conflict each other"),
        ({"containerFile": "RlJPTSBidXN5Ym94Cg=="}, "Attribute `mirror` and `containerFile` conflict each other"),
        ({"containerIncludes": ["alpine:3"]}, "Attribute `mirror` and `containerIncludes` conflict each other"),
        ({"containerConfig": {"env": ["A=1"]}}, "Attribute `mirror` and `containerConfig` conflict each other"),
        ({"buildRepository": None}, "Attribute `buildRepository` is required when specifying `mirror` mode"),
    ],
)


def test_wave_refuses_a_mirror_request(api, busybox, owner_token, target, change, message):
    body = {**mirror_body(busybox, target, owner_token), **change}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert response.json()["message"] == message
    assert not Mirror.objects.exists()


def test_a_token_sent_only_as_bearer_header_authenticates_a_mirror(api, busybox, owner, owner_token, target):
    """Nextflow sends its token as `Authorization: Bearer` too; a header-only token is a token."""
    response = api.post(
        "/v1alpha2/container", mirror_body(busybox, target, None), format="json", HTTP_AUTHORIZATION=f"Bearer {owner_token}"
    )
    assert response.status_code == 200, response.json()
    assert Mirror.objects.get().user == owner


def test_source_and_target_must_be_in_different_registries(api, busybox, owner_token):
    response = post(api, "/v1alpha2/container", mirror_body(busybox, f"{REGISTRY}/mine", owner_token))
    assert response.status_code == 400
    assert response.json()["message"] == f"Source and target mirror registry are the same - offending value '{REGISTRY}/mine'"


@pytest.mark.parametrize("setting", ["WAVE_BUILD_REPOSITORY", "WAVE_CACHE_REPOSITORY"])
def test_the_registries_of_the_services_own_repositories_are_not_a_mirror_target(
    api, busybox, owner_token, private_registry, settings, setting
):
    setattr(settings, setting, f"{private_registry.host}/wave/own")
    repository = f"{private_registry.host}/anything"
    response = post(api, "/v1alpha2/container", mirror_body(busybox, repository, owner_token))
    assert response.status_code == 400
    assert response.json()["message"] == f"Mirror registry not allowed - offending value '{repository}'"


def test_a_registry_the_service_has_credentials_for_is_not_a_mirror_target(api, private_registry, owner, owner_token, settings):
    """Else a mirror of `other/busybox:latest` to `<the stack's registry, by another name>/library`
    would replace the base image every build uses, pushed with the service's credentials."""
    alias = REGISTRY.replace("localhost", "127.0.0.1")
    assert alias in settings.WAVE_REGISTRY_CREDENTIALS
    registry_credential(private_registry.host, private_registry.username, private_registry.password, user=owner)
    response = post(api, "/v1alpha2/container", mirror_body(private_registry.busybox, f"{alias}/library", owner_token))
    assert response.status_code == 400
    assert response.json()["message"] == f"Mirror registry not allowed - offending value '{alias}/library'"


def test_a_target_name_past_the_registry_limit_is_refused_not_a_500(api, registry, owner_token, private_registry):
    image, repository = f"{registry}/{'b' * 200}:1", f"{private_registry.host}/{'a' * 170}"
    response = post(api, "/v1alpha2/container", mirror_body(image, repository, owner_token))
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"Attribute `buildRepository` '{repository}' makes an invalid mirror target - ")


def test_an_unknown_token_is_unauthorized(api, busybox, target):
    response = post(api, "/v1alpha2/container", mirror_body(busybox, target, "not-a-token-of-this-service"))
    assert response.status_code == 401
    assert not Mirror.objects.exists()


def test_a_private_source_without_credentials_is_refused(api, private_registry, owner_token):
    target = f"127.0.0.1:{free_port()}/mirrors"  # never reached: the source is checked first
    response = post(api, "/v1alpha2/container", mirror_body(private_registry.busybox, target, owner_token))
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"Container image '{private_registry.busybox}' is not accessible")
    assert "no credentials are stored" in response.json()["message"]
    assert not Mirror.objects.exists()


def test_a_missing_source_is_404(api, registry, owner_token, target):
    image = f"{registry}/library/no-such-image:1"
    response = post(api, "/v1alpha2/container", mirror_body(image, target, owner_token))
    assert response.status_code == 404
    assert response.json()["message"].startswith(f"Container image '{image}' does not exist")


# --- the answer, the record and the job ------------------------------------------------------------

def test_a_mirror_is_answered_as_wave_does_and_copied_by_its_job(api, multiarch, owner, owner_token, target, private_registry):
    response = post(api, "/v1alpha2/container", mirror_body(multiarch, target, owner_token, containerPlatform="linux/arm64"))
    assert response.status_code == 200, response.json()
    body = response.json()
    expected_target = f"{target}/library/multiarch:latest"
    mirror = Mirror.objects.get()
    assert body == {
        "requestId": body["requestId"], "targetImage": expected_target, "containerImage": expected_target,
        "buildId": mirror.id, "cached": False, "freeze": False, "mirror": True,
    }
    assert mirror.id.startswith("mr-") and len(mirror.id) == 15
    assert mirror.status == Mirror.Status.PENDING and mirror.user == owner and mirror.org == "seqera.io"
    assert mirror.digest == manifest_digest(REGISTRY, "library/multiarch", "latest", own_registry_credentials(REGISTRY))
    # A durable request: its id is no pull token.
    assert async_to_sync(load_token)(body["requestId"]) is None
    status = api.get(f"/v1alpha2/container/{body['requestId']}/status").json()
    assert status["status"] == "PENDING" and status["mirrorId"] == mirror.id and "buildId" not in status

    run_mirror(mirror.id)
    run_mirror(mirror.id)  # a second run finds it taken and does nothing

    mirror.refresh_from_db()
    assert mirror.status == Mirror.Status.SUCCEEDED, mirror.reason
    assert mirror.platform == "linux/amd64,linux/arm64"  # every platform, whatever containerPlatform says
    credentials = Credentials(private_registry.username, private_registry.password)
    path = parse_repository(target).path + "/library/multiarch"
    assert manifest_digest(private_registry.host, path, "latest", credentials) == mirror.digest
    assert mirror.log.startswith("Mirroring on ") and mirror.log.count("Mirroring on ") == 1  # the second run did nothing
    status = api.get(f"/v1alpha2/container/{body['requestId']}/status").json()
    assert status["status"] == "DONE" and status["succeeded"] is True and "reason" not in status

    record = api.get(f"/v1alpha1/mirrors/{mirror.id}").json()
    assert record["mirrorId"] == mirror.id and record["status"] == "COMPLETED" and record["exitCode"] == 0
    assert record["sourceImage"] == multiarch and record["targetImage"] == expected_target
    assert record["digest"] == mirror.digest and record["userId"] == owner.pk and record["duration"] >= 0
    assert "userName" not in record  # public by id: Wave's user id only
    assert record["platform"] == "linux/amd64,linux/arm64" and "creationTime" in record
    assert "Copied the linux/arm64 image" in record["logs"]
    logs = api.get(f"/v1alpha1/mirrors/{mirror.id}/logs")
    assert logs.status_code == 200 and logs.content.decode() == mirror.log

    # The target has the very image now: Wave's cached answer, naming the mirror that made it.
    again = post(api, "/v1alpha2/container", mirror_body(multiarch, target, owner_token)).json()
    assert again["cached"] is True and again["succeeded"] is True and again["buildId"] == mirror.id
    assert Mirror.objects.count() == 1
    assert api.get(f"/v1alpha2/container/{again['requestId']}/status").json()["succeeded"] is True


def test_an_image_pinned_by_digest_is_mirrored_by_that_digest(api, busybox, owner_token, target, private_registry):
    digest = manifest_digest(REGISTRY, "library/busybox", "latest", own_registry_credentials(REGISTRY))
    image = f"{REGISTRY}/library/busybox@{digest}"
    body = post(api, "/v1alpha2/container", mirror_body(image, target, owner_token)).json()
    assert body["targetImage"] == f"{target}/library/busybox@{digest}"
    run_mirror(body["buildId"])
    assert Mirror.objects.get(pk=body["buildId"]).status == Mirror.Status.SUCCEEDED
    credentials = Credentials(private_registry.username, private_registry.password)
    path = parse_repository(target).path + "/library/busybox"
    assert manifest_digest(private_registry.host, path, digest, credentials) == digest


def test_requests_for_a_target_being_copied_join_that_copy(api, busybox, owner_token, target):
    first = post(api, "/v1alpha2/container", mirror_body(busybox, target, owner_token)).json()
    second = post(api, "/v1alpha2/container", mirror_body(busybox, target, owner_token)).json()
    assert first["buildId"] == second["buildId"] and second["cached"] is False and "succeeded" not in second
    assert first["requestId"] != second["requestId"]
    assert Mirror.objects.get().requests.count() == 2


def test_a_dry_run_copies_nothing(api, busybox, owner_token, target):
    body = post(api, "/v1alpha2/container", mirror_body(busybox, target, owner_token, dryRun=True)).json()
    assert body["buildId"].startswith("mr-") and body["buildId"].endswith("_0")
    assert body["succeeded"] is True and body["mirror"] is True
    assert not Mirror.objects.exists()


def test_a_refused_push_ends_the_mirror_with_the_registrys_answer(api, busybox, owner, owner_token, private_registry):
    registry_credential(private_registry.host, private_registry.username, "wrong-password-123", user=owner)
    body = post(api, "/v1alpha2/container", mirror_body(busybox, f"{private_registry.host}/mirrors", owner_token)).json()
    run_mirror(body["buildId"])
    mirror = Mirror.objects.get(pk=body["buildId"])
    assert mirror.status == Mirror.Status.FAILED
    assert f"in registry '{private_registry.host}' was denied with the stored credentials" in mirror.reason
    assert mirror.log.endswith(f"Mirror failed: {mirror.reason}\n")
    status = api.get(f"/v1alpha2/container/{body['requestId']}/status").json()
    assert status["status"] == "DONE" and status["succeeded"] is False
    assert status["reason"] == f"Container mirror did not complete successfully - Cause: {mirror.reason}"
    assert status["detailsUri"] == f"{django_settings.WAVE_SERVER_URL}/view/mirrors/{mirror.id}"
    page = Client().get(f"/view/mirrors/{mirror.id}")  # public by id, as Wave's pages are
    assert page.status_code == 200 and escape(mirror.reason) in page.content.decode()
    assert "wrong-password-123" not in page.content.decode()
    assert owner.username not in page.content.decode()  # who asked: for their org and operators only
    record = api.get(f"/v1alpha1/mirrors/{mirror.id}").json()
    assert record["exitCode"] == 1 and record["reason"] == mirror.reason
    for text in (mirror.reason, mirror.log, str(record)):
        assert "wrong-password-123" not in text and private_registry.password not in text


def test_a_source_gone_since_the_request_ends_the_mirror_with_a_reason(owner, target):
    gone = "sha256:" + "0" * 64
    mirror = MirrorFactory(source_image=f"{REGISTRY}/library/busybox:latest", digest=gone,
                           target_image=f"{target}/library/busybox:latest", user=owner)
    run_mirror(mirror.id)
    mirror.refresh_from_db()
    assert mirror.status == Mirror.Status.FAILED
    assert mirror.reason == f"manifest 'library/busybox@{gone}' was not found in registry '{REGISTRY}'"


def test_a_target_registry_that_is_down_ends_the_mirror_with_a_reason(api, busybox, owner_token):
    down = f"127.0.0.1:{free_port()}"
    body = post(api, "/v1alpha2/container", mirror_body(busybox, f"{down}/mirrors", owner_token)).json()
    run_mirror(body["buildId"])
    mirror = Mirror.objects.get(pk=body["buildId"])
    assert mirror.status == Mirror.Status.FAILED
    assert mirror.reason.startswith(f"Registry '{down}' is unreachable")


def test_a_target_the_ssrf_policy_forbids_is_never_contacted(api, busybox, owner_token):
    body = post(api, "/v1alpha2/container", mirror_body(busybox, "169.254.169.254/latest", owner_token)).json()
    run_mirror(body["buildId"])
    mirror = Mirror.objects.get(pk=body["buildId"])
    assert mirror.status == Mirror.Status.FAILED
    assert mirror.reason == "Host '169.254.169.254' resolves to 169.254.169.254, a loopback, private or link-local address that this service does not contact"


def test_a_mirror_nobody_ran_is_failed_not_left_pending(api, busybox, owner_token, target, settings):
    body = post(api, "/v1alpha2/container", mirror_body(busybox, target, owner_token)).json()
    Mirror.objects.filter(pk=body["buildId"]).update(created_at=timezone.now() - timedelta(seconds=settings.WAVE_MIRROR_TIMEOUT + 61))
    status = api.get(f"/v1alpha2/container/{body['requestId']}/status").json()  # the read shows it failed ...
    assert status["status"] == "DONE" and status["succeeded"] is False
    assert "did not finish within" in status["reason"]
    assert Mirror.objects.get(pk=body["buildId"]).status == Mirror.Status.PENDING  # ... and writes nothing
    assert reap_stale_mirrors() == 1  # the housekeeper's round records it
    run_mirror(body["buildId"])  # a late job finds it ended
    assert Mirror.objects.get(pk=body["buildId"]).status == Mirror.Status.FAILED


@pytest.mark.django_db(transaction=True)  # the housekeeper closes its connections after each task
def test_the_housekeeper_fails_a_stale_mirror(owner, target, settings):
    stale = MirrorFactory(source_image="docker.io/library/busybox:latest", target_image=f"{target}/library/busybox:latest",
                          user=owner, status=Mirror.Status.RUNNING,
                          created_at=timezone.now() - timedelta(seconds=settings.WAVE_MIRROR_TIMEOUT + 61))
    fresh = MirrorFactory(source_image="docker.io/library/alpine:3", target_image=f"{target}/library/alpine:3", user=owner)
    assert run_once()["mirrors.jobs.reap_stale_mirrors"] == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == Mirror.Status.FAILED and stale.log.startswith("Mirror failed: The mirror did not finish within")
    assert fresh.status == Mirror.Status.PENDING


def test_an_unknown_mirror_is_404(api):
    response = api.get("/v1alpha1/mirrors/mr-000000000000")
    assert response.status_code == 404
    assert response.json()["message"] == "Unknown mirror 'mr-000000000000'"
    assert Client().get("/view/mirrors/mr-000000000000").status_code == 404


# --- the real clients' bodies ----------------------------------------------------------------------

@pytest.mark.parametrize("client", ["nextflow_mirror", "wavecli_mirror"])
def test_the_clients_mirror_bodies_get_waves_answer(api, busybox, owner_token, target, client):
    body = client_body(client, containerImage=busybox, buildRepository=target, towerAccessToken=owner_token)
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["mirror"] is True and answer["buildId"].startswith("mr-") and answer["cached"] is False
    assert answer["targetImage"] == f"{target}/library/busybox:latest"
    assert "containerToken" not in answer and "expiration" not in answer and "succeeded" not in answer
    # What Nextflow binds (`WaveClient.getContainerMeta`: mirrorId = buildId when mirror) and wave-cli awaits on.
    assert answer["requestId"]


def test_operators_see_mirrors_in_the_admin(admin_client, owner, target):
    mirror = MirrorFactory(source_image="docker.io/library/busybox:latest", target_image=f"{target}/library/busybox:latest",
                           user=owner, reason="it broke")
    listing = admin_client.get("/admin/mirrors/mirror/?q=busybox&status__exact=PENDING")
    assert listing.status_code == 200 and mirror.id in listing.content.decode()
    page = admin_client.get(f"/admin/mirrors/mirror/{mirror.id}/change/")
    assert page.status_code == 200 and "it broke" in page.content.decode()
