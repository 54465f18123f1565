"""The Prometheus `/metrics` endpoint for operators, with the builds' collector (registered in
`MetricsConfig.ready()`): here, in an app above builds, so `wave_site`'s core imports no app."""

from __future__ import annotations

import os

from django.db.models import Count, F, Sum
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily

from builds.models import Build
from builds.queue import build_queues
from wave_site.errors import DomainError
from wave_site.redis import ERRORS, unavailable

from .auth import check_metrics_reader


class BuildCollector:
    """Build outcomes and durations, and the queue's depth, read when Prometheus scrapes (the
    builds run in worker processes, whose own counters this process cannot see)."""

    def describe(self):
        # Without it the registry calls collect() to learn the names: a query at start-up, before
        # the database may even be migrated.
        return []

    def collect(self):
        outcomes = CounterMetricFamily("wave_builds", "Builds by status", labels=["status"])
        seconds = CounterMetricFamily("wave_build_duration_seconds", "Total build seconds by status", labels=["status"])
        rows = (
            Build.objects.filter(from_registry=False)
            .values("status")
            .annotate(n=Count("pk"), spent=Sum(F("finished_at") - F("started_at")))
        )
        for row in rows:
            outcomes.add_metric([row["status"]], row["n"])
            if row["spent"] is not None:
                seconds.add_metric([row["status"]], row["spent"].total_seconds())
        yield from (outcomes, seconds)
        try:
            count = sum(queue.count for queue in build_queues())
        except ERRORS as exc:  # the other metrics are still worth a scrape
            unavailable("queue_depth", exc)
            return
        depth = GaugeMetricFamily("wave_build_queue_depth", "Jobs waiting in the build queues (every platform's, and mirrors')")
        depth.add_metric([], count)
        yield depth


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for operators: a staff session, or Basic auth of a user with the metrics permission."""
    if not (request.user.is_authenticated and request.user.is_staff):
        try:
            check_metrics_reader(request)
        except DomainError as exc:
            return HttpResponse(exc.message, status=exc.status, headers=exc.headers, content_type="text/plain")
    return HttpResponse(generate_latest(scraped_registry()), content_type=CONTENT_TYPE_LATEST)


def scraped_registry() -> CollectorRegistry:
    """This process's registry; under several web processes (PROMETHEUS_MULTIPROC_DIR, set by
    scripts/stack) the sum of every process's files, and the builds read once, by the one scraped."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(BuildCollector())
    return registry
