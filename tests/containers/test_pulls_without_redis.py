"""A web process that cannot reach Redis at all still serves every known token from Postgres.

The server under test is given the address of a Redis that is not there (a free loopback port): every
Redis command it makes fails as it would during an outage. Tokens are issued by the test session's
ordinary server, which records them in the shared database.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import httpx
import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from builds.base_images import busybox_image
from builds.models import Build
from containers.models import ContainerRequest
from metrics.models import PullEvent
from tests.support.factories import UserFactory, api_token, build_token
from tests.support.helpers import free_port, wait_until
from tests.support.images import ADDED, data_layer
from tests.support.servers import start_server, stop_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def no_redis(django_db_setup, tmp_path_factory):
    log = tmp_path_factory.mktemp("no-redis") / "server.log"
    server = start_server(log, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    yield server
    stop_server(server)


def basic(username: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:password".encode()).decode()}


def manifest(server, token: str, name: str = "library/busybox", reference: str = "latest") -> httpx.Response:
    return httpx.get(f"{server.url}/v2/wt/{token}/{name}/manifests/{reference}", headers={"Accept": MANIFEST}, timeout=60)


def test_known_tokens_pull_without_redis_and_their_pulls_are_counted(wave_server, no_redis, busybox):
    plain = wave_server.request_container({"containerImage": busybox})["containerToken"]
    config = {"env": ["GREETING=hello"], "layers": [data_layer()]}
    augmented = wave_server.request_container({"containerImage": busybox, "containerConfig": config})["containerToken"]

    statuses = [manifest(no_redis, plain).status_code for _ in range(20)]
    assert statuses == [200] * 20
    response = manifest(no_redis, augmented)
    assert response.status_code == 200
    served = response.json()
    assert served["layers"][-1]["digest"] == ADDED.gzip_digest
    blobs = f"{no_redis.url}/v2/wt/{augmented}/library/busybox/blobs"
    config_blob = httpx.get(f"{blobs}/{served['config']['digest']}")  # its digest is known only to Redis: made again
    assert config_blob.status_code == 200 and "GREETING=hello" in config_blob.json()["config"]["Env"]
    assert httpx.get(f"{blobs}/{ADDED.gzip_digest}").content == ADDED.gzip
    base_layer = busybox_image().manifest.json["layers"][0]["digest"]
    assert httpx.get(f"{no_redis.url}/v2/wt/{plain}/library/busybox/blobs/{base_layer}").status_code == 200

    wait_until(lambda: PullEvent.objects.filter(token__in=[plain, augmented]).count() == 21, timeout=20)
    reader = UserFactory(username="no-redis-reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_usage_metrics"))
    counts = httpx.get(f"{no_redis.url}/v1alpha2/metrics/pulls", headers=basic("no-redis-reader"))
    assert counts.status_code == 200 and counts.json()["count"] == PullEvent.objects.count() >= 21
    scrape = httpx.get(f"{no_redis.url}/metrics", headers=basic("no-redis-reader"))
    assert scrape.status_code == 200
    limited = re.search(r'^wave_redis_unavailable_total\{use="ratelimit"\} (\S+)$', scrape.text, re.M)
    assert limited and float(limited.group(1)) >= 21


def test_revoked_and_expired_tokens_are_still_refused(wave_server, no_redis, busybox):
    revoked = wave_server.request_container({"containerImage": busybox})["containerToken"]
    expired = wave_server.request_container({"containerImage": busybox})["containerToken"]
    assert manifest(no_redis, revoked).status_code == 200
    ContainerRequest.objects.filter(token=revoked).update(revoked_at=timezone.now())
    ContainerRequest.objects.filter(token=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    for token in (revoked, expired):
        response = manifest(no_redis, token)
        assert response.status_code == 404 and response.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_a_revocation_redis_cannot_hear_of_is_refused_not_half_done(wave_server, no_redis, busybox):
    token = wave_server.request_container({"containerImage": busybox})["containerToken"]
    staff = api_token(UserFactory(username="no-redis-staff", is_staff=True))
    response = httpx.delete(f"{no_redis.url}/container-token/{token}", headers={"Authorization": f"Bearer {staff}"})
    assert response.status_code == 503 and "not revoked" in response.json()["message"]
    assert ContainerRequest.objects.get(token=token).revoked_at is None
    assert manifest(wave_server, token).status_code == 200  # its cached record is still good: it was not revoked
    assert httpx.delete(f"{wave_server.url}/container-token/{token}", headers={"Authorization": f"Bearer {staff}"}).status_code == 200
    assert manifest(wave_server, token).status_code == 404


def test_new_requests_and_pulls_of_ended_builds_work_without_redis(no_redis, busybox):
    body = no_redis.request_container({"containerImage": busybox})
    assert manifest(no_redis, body["containerToken"]).status_code == 200

    assert manifest(no_redis, build_token(busybox, Build.Status.SUCCEEDED)).status_code == 200
    failed = manifest(no_redis, build_token(busybox, Build.Status.FAILED, "exit status 3"))
    assert failed.status_code == 404
    assert "The build of this image failed (exit status 3)" in failed.json()["errors"][0]["message"]
