"""Errors tell the truth: an upstream's mistake is a 400 (API) or 502 (pull path) in the upstream's
words; a bug of ours is a logged 500 naming the request id, on the API, the pull path and the pages."""

from __future__ import annotations

import json
import logging

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from rest_framework.test import APIClient

from oci import mediatypes
from tests.support.fake_registry import FakeRegistry
from tests.support.helpers import post
from wave_site.observability import RequestIdFilter

pytestmark = pytest.mark.django_db

GOOD = json.dumps({
    "schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
    "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": "sha256:" + "a" * 64, "size": 2},
    "layers": [],
}).encode()
NOT_A_MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST, "config": "sha256:abc"}).encode()


@pytest.fixture
def upstream(settings):
    fake = FakeRegistry()
    settings.WAVE_SSRF_ALLOWLIST = [*settings.WAVE_SSRF_ALLOWLIST, fake.host]
    yield fake
    fake.close()


@pytest.fixture
def logged(caplog):
    """Log records as the service's handler sees them: with the request id."""
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.ERROR)
    return caplog


def bug(*args, **kwargs):
    raise KeyError("a key our own code expected")


def test_an_upstream_manifest_that_is_not_a_manifest_is_a_400_in_its_words(api, upstream):
    upstream.manifest = NOT_A_MANIFEST
    response = post(api, "/v1alpha1/inspect", {"containerImage": f"{upstream.host}/lib/odd:1"})
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"Container image '{upstream.host}/lib/odd:1' cannot be read: "
        "The registry sent an invalid image manifest: 'config' is not a descriptor with a digest"
    )


@pytest.mark.parametrize("raw, problem", [
    (b"[1, 2]", "an array, not an object"),
    (b"[" * 100_000 + b"]" * 100_000, "maximum recursion depth exceeded"),
    (b'{"mediaType": 7}', "'mediaType' is not a string"),
])


def test_an_upstream_answer_that_is_not_an_object_is_a_400(api, upstream, raw, problem):
    upstream.manifest, upstream.media_type = raw, "application/json"
    response = post(api, "/v1alpha1/inspect", {"containerImage": f"{upstream.host}/lib/odd:1"})
    assert response.status_code == 400
    assert "The registry sent an invalid manifest" in response.json()["message"]
    assert problem in response.json()["message"]


def test_our_bug_on_the_api_is_a_logged_500_with_the_request_id(monkeypatch, busybox, logged):
    monkeypatch.setattr("containers.services.check_scan", bug)
    client = APIClient(raise_request_exception=False)
    response = client.post("/v1alpha2/container", {"containerImage": busybox}, format="json", HTTP_X_REQUEST_ID="bug-api-1")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal error, request id bug-api-1"}
    assert response["X-Request-Id"] == "bug-api-1"
    [record] = [r for r in logged.records if r.exc_info]
    assert record.exc_info[0] is KeyError and record.request_id == "bug-api-1"


def test_our_bug_on_a_page_is_a_500_page_with_the_request_id(monkeypatch, owner, logged):
    monkeypatch.setattr("builds.pages.visible_builds", bug)
    client = APIClient(raise_request_exception=False)
    client.force_login(owner)
    response = client.get("/view/builds/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    rid = response["X-Request-Id"]
    assert f"Internal error, request id {rid}" in response.content.decode()
    assert any(r.exc_info and r.request_id == rid for r in logged.records)


@pytest.mark.django_db(transaction=True)
def test_the_pull_path_says_502_for_the_upstreams_mistake_and_500_for_ours(api, upstream, monkeypatch, logged):
    # Augmented, so the pull path reads the manifest (a plain proxy passes its bytes on untouched).
    body = {"containerImage": f"{upstream.host}/lib/odd:1", "containerConfig": {"env": ["A=1"]}}
    upstream.manifest = GOOD
    token = post(api, "/v1alpha2/container", body).json()["containerToken"]
    upstream.manifest = NOT_A_MANIFEST
    client = AsyncClient()
    url = f"/v2/wt/{token}/lib/odd/manifests/1"

    response = async_get(client, url)
    assert response.status_code == 502
    assert response.json()["errors"][0] == {
        "code": "UNKNOWN", "detail": None,
        "message": "The registry sent an invalid image manifest: 'config' is not a descriptor with a digest",
    }

    monkeypatch.setattr("containers.proxy._resolve_upstream", bug)
    response = async_get(client, url, headers={"X-Request-Id": "bug-pull-1"})
    assert response.status_code == 500
    assert response["X-Request-Id"] == "bug-pull-1"
    assert response.json()["errors"][0]["message"] == "Internal error, request id bug-pull-1"
    [record] = [r for r in logged.records if r.exc_info]
    assert record.exc_info[0] is KeyError and record.request_id == "bug-pull-1"


def async_get(client: AsyncClient, url: str, **kwargs):
    return async_to_sync(client.get)(url, **kwargs)
