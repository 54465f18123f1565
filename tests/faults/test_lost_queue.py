"""A build whose queue entry Redis lost (a FLUSHDB right after the request) still runs: the
housekeeper queues it again within its interval."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings as django_settings

from builds.models import Build
from builds.requeue import REQUEUED
from tests.support.helpers import b64, post, unique, wait_until
from wave_site.housekeeping import run_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_build_whose_queue_entry_was_flushed_is_queued_again_and_succeeds(api, registry, isolated_worker, settings):  # noqa: F811
    settings.WAVE_BUILD_PENDING_TIMEOUT = 2
    marker = unique()
    build_id = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN echo {marker}\n")}).json()["buildId"]
    redis.Redis.from_url(django_settings.REDIS_URL).flushdb()  # what the app's Redis user may do; the job is gone
    isolated_worker()  # started after the flush, so it cannot have taken the job first

    def housekept_and_ended() -> Build | None:
        run_once()
        build = Build.objects.get(pk=build_id)
        return build if build.completed else None

    build = wait_until(housekept_and_ended, timeout=120, every=1.0)
    assert build.status == Build.Status.SUCCEEDED, build.reason
    assert f"{REQUEUED} (1 of " in build.log and f"\n{marker}\n" in build.log
