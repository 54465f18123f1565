"""Reads never write: a build whose worker died reads as failed on every GET, and only the
housekeeper's reconciler records it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from builds.models import Build
from builds.reconcile import reap_stale_builds
from containers.build_wait import _recorded
from containers.models import ContainerRequest
from tests.support.helpers import REGISTRY

pytestmark = pytest.mark.django_db

REASON = "The worker running this build stopped: no heartbeat for {} seconds"


def running_build(heartbeat_age: timedelta) -> Build:
    build_hash = uuid.uuid4().hex[:16]
    beat = timezone.now() - heartbeat_age
    return Build.objects.create(
        id=f"{build_hash}_1", content_hash=build_hash, number=1, status=Build.Status.RUNNING,
        container_file="FROM x\n", platform="linux/amd64", build_repository=f"{REGISTRY}/x",
        target_image=f"{REGISTRY}/x:{build_hash}", heartbeat_at=beat, started_at=beat, log="STEP 1/1: FROM x\n",
    )


@pytest.fixture
def stale(settings) -> Build:
    settings.WAVE_BUILD_HEARTBEAT_TIMEOUT = 60
    return running_build(timedelta(minutes=5))


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))]


def unchanged(build: Build) -> bool:
    row = Build.objects.get(pk=build.pk)
    return (row.status, row.reason, row.finished_at, row.log) == (build.status, build.reason, build.finished_at, build.log)


@pytest.mark.parametrize("path", ["/v1alpha1/builds/{}/status", "/v1alpha1/builds/{}", "/view/builds/{}/log"])
def test_a_stale_build_reads_as_failed_and_its_row_is_untouched(api, stale, path):
    with CaptureQueriesContext(connection) as queries:
        body = api.get(path.format(stale.id)).json()
    assert body.get("status") in ("COMPLETED", "FAILED")
    assert writes(queries) == []
    assert unchanged(stale)


def test_the_status_of_a_stale_build_says_failed_with_the_reapers_reason(api, stale):
    body = api.get(f"/v1alpha1/builds/{stale.id}/status").json()
    assert body["status"] == "COMPLETED" and body["succeeded"] is False
    record = api.get(f"/v1alpha1/builds/{stale.id}").json()
    assert record["reason"] == REASON.format(60) and record["succeeded"] is False


def test_the_log_of_a_stale_build_ends_with_the_reason_before_it_is_recorded(api, stale):
    with CaptureQueriesContext(connection) as queries:
        log = api.get(f"/v1alpha1/builds/{stale.id}/logs").content.decode()
    assert log == f"STEP 1/1: FROM x\nBuild failed: {REASON.format(60)}\n"
    assert writes(queries) == [] and unchanged(stale)


def test_the_build_page_of_a_stale_build_shows_it_failed_without_writing(client, stale):
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/view/builds/{stale.id}")
    assert page.status_code == 200 and REASON.format(60) in page.content.decode()
    assert writes(queries) == [] and unchanged(stale)


def test_a_container_status_follows_a_stale_build_without_writing(api, stale):
    request = ContainerRequest.objects.create(
        endpoint="/v1alpha2/container", request={}, platform="linux/amd64", target_image="x", build=stale
    )
    with CaptureQueriesContext(connection) as queries:
        body = api.get(f"/v1alpha2/container/{request.token}/status").json()
        described = api.get(f"/v1alpha2/container/{request.token}").json()
    assert body["status"] == "DONE" and body["succeeded"] is False and body["reason"] == REASON.format(60)
    assert described["build"]["status"] == "COMPLETED" and described["build"]["succeeded"] is False
    assert writes(queries) == [] and unchanged(stale)


@pytest.mark.django_db(transaction=True)  # `_recorded` gives its connection back
def test_a_waiting_pull_reads_a_stale_build_as_failed_and_leaves_the_announcement_to_the_reaper(stale):
    with CaptureQueriesContext(connection) as queries:
        assert _recorded(stale.id) == ("FAILED", REASON.format(60))
    assert writes(queries) == [] and unchanged(stale)


@pytest.mark.django_db(transaction=True)
def test_a_waiting_pull_reads_a_deleted_build_as_failed_not_as_running_for_ever(stale):
    Build.objects.filter(pk=stale.pk).delete()
    assert _recorded(stale.id) == ("FAILED", "its record was deleted")


def test_a_fresh_heartbeat_reads_as_running(api, settings):
    settings.WAVE_BUILD_HEARTBEAT_TIMEOUT = 60
    fresh = running_build(timedelta(seconds=5))
    assert api.get(f"/v1alpha1/builds/{fresh.id}/status").json()["status"] == "PENDING"
    assert api.get(f"/view/builds/{fresh.id}/log").json()["status"] == "RUNNING"


def test_the_housekeepers_reconciler_records_what_the_reads_showed(api, stale, settings):
    assert "builds.reconcile.reap_stale_builds" in settings.WAVE_HOUSEKEEPING_TASKS
    shown = api.get(f"/v1alpha1/builds/{stale.id}").json()
    assert reap_stale_builds() == 1
    row = Build.objects.get(pk=stale.pk)
    assert row.status == Build.Status.FAILED and row.reason == shown["reason"]
    assert row.log.endswith(f"Build failed: {shown['reason']}\n")
    assert reap_stale_builds() == 0  # once
