"""Request ids in every log line (JSON), and the Prometheus /metrics endpoint for operators."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import threading
import time
import uuid

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

REQUEST_SECONDS = Histogram("wave_request_duration_seconds", "Request latency by route", ["route", "method", "status"])
MANIFEST_CACHE = Counter("wave_proxy_manifest_cache_total", "Manifest lookups of the pull path", ["result"])
BYTES_STREAMED = Counter("wave_proxy_bytes_streamed_total", "Blob bytes streamed from upstream registries")
WAITING_PULLS = Gauge("wave_pulls_waiting_for_builds", "Pulls waiting for a build to end, in this process")
REDIS_UNAVAILABLE = Counter(
    "wave_redis_unavailable", "Operations done without Redis because it could not be reached", ["use"]
)
PULL_RECORDS_DROPPED = Counter(
    "wave_pull_records_dropped", "Pull records dropped: the buffer was full while Postgres was away, or a batch was refused"
)
PULL_RECORDS_BUFFERED = Gauge("wave_pull_records_buffered", "Pull records waiting to be written to Postgres, in this process")


def start_request(header: str | None) -> str:
    rid = header if header and _SANE_ID.match(header) else uuid.uuid4().hex
    request_id.set(rid)
    return rid


def observe(request: HttpRequest, status: int, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    route = match.route if match else "unmatched"
    REQUEST_SECONDS.labels(route, request.method, str(status)).observe(time.perf_counter() - started)


class RequestIdMiddleware:
    """Gives every request an id (its X-Request-Id when sane), logs carry it, the response returns it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        rid = start_request(request.headers.get("X-Request-Id"))
        response = self.get_response(request)
        response["X-Request-Id"] = rid
        observe(request, response.status_code, started)
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class BuildCollector:
    """Build outcomes and durations, and the queue's depth, read when Prometheus scrapes (the
    builds run in worker processes, whose own counters this process cannot see)."""

    def collect(self):
        import django_rq
        from django.conf import settings
        from django.db.models import Count, F, Sum

        from builds.models import Build

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
        from wave_site.redis import ERRORS, unavailable

        try:
            count = django_rq.get_queue(settings.WAVE_BUILD_QUEUE).count
        except ERRORS as exc:  # the other metrics are still worth a scrape
            unavailable("queue_depth", exc)
            return
        depth = GaugeMetricFamily("wave_build_queue_depth", "Build jobs waiting in the queue")
        depth.add_metric([], count)
        yield depth


_collector_lock = threading.Lock()
_collector_registered = False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for operators: a staff session, or Basic auth of a user with the metrics permission."""
    global _collector_registered
    from metrics.auth import check_metrics_reader
    from wave_site.errors import DomainError

    if not (request.user.is_authenticated and request.user.is_staff):
        try:
            check_metrics_reader(request)
        except DomainError as exc:
            return HttpResponse(exc.message, status=exc.status, headers=exc.headers, content_type="text/plain")
    with _collector_lock:
        if not _collector_registered:
            REGISTRY.register(BuildCollector())
            _collector_registered = True
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
