"""The metrics API against events made by real pulls and builds, and the counters' rebuild."""

from __future__ import annotations

import base64

import httpx
import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from metrics import counters
from metrics.models import PullEvent
from tests.support.factories import UserFactory, api_token
from tests.support.helpers import dockerfile, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def basic(username: str, password: str = "password") -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture
def reader():
    user = UserFactory(username="metrics-reader")
    user.user_permissions.add(Permission.objects.get(codename="view_usage_metrics"))
    return user


def pull(server, token: str, name: str) -> None:
    assert httpx.get(f"{server.url}/v2/wt/{token}/{name}/manifests/latest").status_code == 200


def test_the_reference_examples_against_real_events(wave_server, busybox, reader):
    counters.reset()
    seqera = [api_token(UserFactory(email=f"u{i}@seqera.io")) for i in range(2)]
    gmail = api_token(UserFactory(email="someone@gmail.com"))
    fusion_layer = "https://fusionfs.seqera.io/releases/v2.4.2-amd64.json"

    tokens = {}
    for who, key in [(seqera[0], "s0"), (seqera[1], "s1"), (gmail, "g"), (None, "anon")]:
        body = {"containerImage": busybox, **({"towerAccessToken": who} if who else {})}
        tokens[key] = wave_server.request_container(body)["containerToken"]
    for key, times in {"s0": 3, "s1": 1, "g": 2, "anon": 1}.items():
        for _ in range(times):
            pull(wave_server, tokens[key], "library/busybox")
    for who in (seqera[0], seqera[0], gmail, None):  # four builds submitted (they need not run)
        wave_server.request_container({"containerFile": dockerfile(), **({"towerAccessToken": who} if who else {})})
    from containers.models import ContainerRequest
    from containers.tokens import forget_token

    ContainerRequest.objects.filter(token=tokens["g"]).update(container_config={"layers": [{"location": fusion_layer, "gzipDigest": "sha256:" + "a" * 64, "gzipSize": 1, "tarDigest": "sha256:" + "b" * 64}]})
    forget_token(tokens["g"])
    pull(wave_server, tokens["g"], "library/busybox")
    wait_until(lambda: PullEvent.objects.count() == 8, timeout=20)

    client, today = Client(), timezone.localdate().isoformat()
    get = lambda path: client.get(path, **basic("metrics-reader")).json()  # noqa: E731
    assert get("/v1alpha2/metrics/pulls") == {"metric": "pulls", "count": 8, "orgs": {"seqera.io": 4, "gmail.com": 3}}
    assert get(f"/v1alpha2/metrics/pulls?date={today}&org=seqera.io") == {"count": 4}
    assert get(f"/v1alpha2/metrics/pulls?date={today}") == {"metric": "pulls", "count": 8, "orgs": {"seqera.io": 4, "gmail.com": 3}}
    assert get("/v1alpha2/metrics/pulls?org=seqera.io") == {"metric": "pulls", "count": 4, "orgs": {"seqera.io": 4}}
    assert get("/v1alpha2/metrics/pulls?date=2001-01-01") == {"metric": "pulls", "count": 0, "orgs": {}}
    assert get("/v1alpha2/metrics/builds") == {"metric": "builds", "count": 4, "orgs": {"seqera.io": 2, "gmail.com": 1}}
    assert get(f"/v1alpha2/metrics/builds?date={today}&org=gmail.com") == {"count": 1}
    assert get("/v1alpha2/metrics/fusion/pulls") == {"metric": "fusion", "count": 1, "orgs": {"gmail.com": 1}}
    assert get(f"/v1alpha2/metrics/fusion/pulls?date={today}&org=seqera.io") == {"count": 0}

    before = {path: get(path) for path in ("/v1alpha2/metrics/pulls", f"/v1alpha2/metrics/builds?date={today}", "/v1alpha2/metrics/fusion/pulls?org=gmail.com")}
    counters.reset()  # as a flushed Redis: the answers come from Postgres alone
    assert {path: get(path) for path in before} == before
    call_command("rebuild_counters")
    assert redis.Redis.from_url(settings.REDIS_URL).hget(counters.HASH, "pulls") == b"8"
    assert {path: get(path) for path in before} == before


@pytest.mark.parametrize("auth, status", [({}, 401), (basic("metrics-reader", "wrong"), 401), ({"HTTP_AUTHORIZATION": "Basic !!!"}, 401)])
def test_metrics_need_basic_auth(reader, auth, status):
    response = Client().get("/v1alpha2/metrics/builds", **auth)
    assert response.status_code == status
    assert response["WWW-Authenticate"] == 'Basic realm="wave metrics"'
    assert response.json()["message"]


def test_a_user_without_the_permission_is_403():
    UserFactory(username="nosy")
    response = Client().get("/v1alpha2/metrics/pulls", **basic("nosy"))
    assert response.status_code == 403 and "view_usage_metrics" in response.json()["message"]


def test_a_malformed_date_is_400(reader):
    response = Client().get("/v1alpha2/metrics/pulls?date=08-04-2024", **basic("metrics-reader"))
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid date '08-04-2024': use yyyy-mm-dd, e.g. 2024-04-08"
