"""Org managers on the metrics API: their own org with an API token (or Basic auth), the same shapes a
metrics reader gets, and 403 for another org, for every org, and for /metrics."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from metrics import counters
from tests.support.factories import BuildFactory, PullEventFactory, UserFactory, api_token

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def basic(username: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:password".encode()).decode()}


@pytest.fixture
def usage():
    counters.reset()  # answers from Postgres alone: no other test's counts in the Redis hash
    PullEventFactory.create_batch(3)
    PullEventFactory(fusion=True)
    PullEventFactory.create_batch(2, org="gmail.com")
    BuildFactory(org="seqera.io")
    reader = UserFactory(username="metrics-reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_usage_metrics"))
    return basic("metrics-reader")


@pytest.fixture
def manager():
    return UserFactory(username="boss", email="boss@seqera.io", is_org_manager=True)


def test_a_manager_reads_their_own_org_with_a_token_as_a_reader_would(usage, manager):
    token, client, today = api_token(manager), Client(), timezone.localdate().isoformat()
    expected = {
        "/v1alpha2/metrics/pulls?org=seqera.io": {"metric": "pulls", "count": 4, "orgs": {"seqera.io": 4}},
        "/v1alpha2/metrics/fusion/pulls?org=seqera.io": {"metric": "fusion", "count": 1, "orgs": {"seqera.io": 1}},
        "/v1alpha2/metrics/builds?org=SEQERA.IO": {"metric": "builds", "count": 1, "orgs": {"seqera.io": 1}},
        f"/v1alpha2/metrics/pulls?date={today}&org=seqera.io": {"count": 4},
        "/v1alpha2/metrics/pulls?date=2001-01-01&org=seqera.io": {"count": 0},
    }
    for path, answer in expected.items():
        as_manager = client.get(path, **bearer(token))
        assert as_manager.status_code == 200, as_manager.content
        assert as_manager.json() == answer == client.get(path, **usage).json()
        assert client.get(path, **basic("boss")).json() == answer  # Basic auth works for them too


@pytest.mark.parametrize("query, which", [("?org=gmail.com", "of gmail.com"), ("", "of every org"), ("?org=", "of every org"), ("?date=2024-04-08", "of every org")])
def test_a_manager_gets_403_for_another_org_or_all_of_them(usage, manager, query, which):
    response = Client().get(f"/v1alpha2/metrics/pulls{query}", **bearer(api_token(manager)))
    assert response.status_code == 403
    assert response.json()["message"] == f"User 'boss' may not read the usage metrics {which}: only of seqera.io (add ?org=seqera.io)"
    assert "gmail.com" not in str(response.json()) or which == "of gmail.com"
    assert Client().get(f"/v1alpha2/metrics/pulls{query}", **usage).status_code == 200  # a reader reads them all


def test_a_manager_does_not_read_prometheus_metrics_of_every_org(usage, manager):
    assert Client().get("/metrics", **basic("boss")).status_code == 403
    assert Client().get("/metrics", **usage).status_code == 200


def test_a_token_of_a_user_who_is_neither_reader_nor_manager_is_403(usage):
    plain = UserFactory(username="plain", email="plain@seqera.io")
    response = Client().get("/v1alpha2/metrics/pulls?org=seqera.io", **bearer(api_token(plain)))
    assert response.status_code == 403 and "view_usage_metrics" in response.json()["message"]
    former = UserFactory(username="former", email="former@seqera.io", is_org_manager=True, is_active=False)
    assert Client().get("/v1alpha2/metrics/pulls?org=seqera.io", **bearer(api_token(former))).status_code == 401


def test_an_unknown_token_is_401(usage):
    response = Client().get("/v1alpha2/metrics/pulls?org=seqera.io", **bearer("not-a-token"))
    assert response.status_code == 401 and response.json()["message"]
