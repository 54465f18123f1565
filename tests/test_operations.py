"""Operations: the Prometheus endpoint, request ids in responses and logs, the admin's actions."""

from __future__ import annotations

import json
import logging

import django_rq
import pytest
from django.test import Client

from builds.models import Build
from containers.models import ContainerRequest
from tests.support.factories import BuildFactory, UserFactory
from tests.support.helpers import REGISTRY, post
from wave_site.observability import JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db


def test_prometheus_metrics_are_for_operators(admin_client, busybox, api):
    assert Client().get("/metrics").status_code == 401
    plain = Client()
    plain.force_login(UserFactory())
    assert plain.get("/metrics").status_code == 401
    post(api, "/v1alpha2/container", {"containerImage": busybox})
    body = admin_client.get("/metrics").content.decode()
    assert 'wave_request_duration_seconds_count{method="POST",route="v1alpha2/container",status="200"}' in body
    assert "wave_build_queue_depth" in body and "wave_proxy_manifest_cache_total" in body


def test_build_outcomes_are_exported(admin_client):
    BuildFactory(status=Build.Status.FAILED)
    assert 'wave_builds_total{status="FAILED"} 1.0' in admin_client.get("/metrics").content.decode()


def test_every_response_carries_a_request_id_and_logs_carry_it(client, caplog):
    response = client.get("/service-info", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-Id"] == "abc-123"
    assert len(client.get("/service-info", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-Id"]) == 32
    record = logging.LogRecord("wave", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    from wave_site.observability import request_id

    request_id.set("rid-7")
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "rid-7" and line["message"] == "hello there" and line["level"] == "INFO"


def test_the_admin_retries_a_failed_build(admin_client, api, django_capture_on_commit_callbacks):
    import base64

    dockerfile = base64.b64encode(f"FROM {REGISTRY}/library/busybox\nRUN exit 1\n".encode()).decode()
    build_id = post(api, "/v1alpha2/container", {"containerFile": dockerfile}).json()["buildId"]
    Build.objects.filter(pk=build_id).update(status=Build.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/builds/build/", {"action": "retry", "_selected_action": [build_id]})
    retried = Build.objects.get(pk=build_id[:16] + "_2")
    assert retried.status == Build.Status.PENDING and retried.container_file == Build.objects.get(pk=build_id).container_file
    assert django_rq.get_queue("default-linux-amd64").fetch_job(f"build-{retried.id}") is not None


def test_the_admin_revokes_container_tokens(admin_client, api, busybox):
    token = post(api, "/v1alpha2/container", {"containerImage": busybox}).json()["containerToken"]
    from asgiref.sync import async_to_sync

    from containers.tokens import load_token

    assert async_to_sync(load_token)(token) is not None  # a pull caches the token's record
    admin_client.post("/admin/containers/containerrequest/", {"action": "revoke", "_selected_action": [token]})
    assert ContainerRequest.objects.get(token=token).revoked_at is not None
    assert api.get(f"/container-token/{token}").status_code == 404
    assert async_to_sync(load_token)(token) is None  # the pull path's record is gone at once


def test_deleting_a_request_in_the_admin_forgets_its_token(admin_client, api, busybox):
    from asgiref.sync import async_to_sync

    from containers.tokens import REVOKED, load_token
    from wave_site.redis import sync_redis

    token = post(api, "/v1alpha2/container", {"containerImage": busybox}).json()["containerToken"]
    assert async_to_sync(load_token)(token) is not None  # a pull caches the token's record
    assert sync_redis().exists(f"wave:token:{token}")
    admin_client.post("/admin/containers/containerrequest/", {"action": "delete_selected", "_selected_action": [token], "post": "yes"})
    assert not ContainerRequest.objects.filter(token=token).exists()
    # A tombstone, not a deleted key: a pull that read the request before it was deleted cannot cache it again.
    assert sync_redis().get(f"wave:token:{token}") == REVOKED and async_to_sync(load_token)(token) is None


@pytest.mark.parametrize("model", ["accounts/user", "accounts/apitoken", "accounts/workspace", "accounts/registrycredential",
                                   "containers/containerrequest", "builds/storedblob", "builds/build", "metrics/pullevent"])


def test_every_model_has_an_admin_list_with_search(admin_client, model):
    assert admin_client.get(f"/admin/{model}/?q=x").status_code == 200
