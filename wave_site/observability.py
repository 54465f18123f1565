"""Request ids in every log line (JSON), and the Prometheus metrics every process counts (served
by `metrics/prometheus.py`)."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import time
import uuid

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Gauge, Histogram, multiprocess

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

REQUEST_SECONDS = Histogram("wave_request_duration_seconds", "Request latency by route", ["route", "method", "status"])
MANIFEST_CACHE = Counter("wave_proxy_manifest_cache_total", "Manifest lookups of the pull path", ["result"])
BYTES_STREAMED = Counter("wave_proxy_bytes_streamed_total", "Blob bytes streamed from upstream registries")
# Under several web processes (PROMETHEUS_MULTIPROC_DIR) a gauge is the sum over the live ones.
WAITING_PULLS = Gauge(
    "wave_pulls_waiting_for_builds", "Pulls waiting for a build to end", multiprocess_mode="livesum"
)
REDIS_UNAVAILABLE = Counter(
    "wave_redis_unavailable", "Operations done without Redis because it could not be reached", ["use"]
)
PULL_RECORDS_DROPPED = Counter(
    "wave_pull_records_dropped", "Pull records dropped: the buffer was full while Postgres was away, or a batch was refused"
)
PULL_RECORDS_BUFFERED = Gauge(
    "wave_pull_records_buffered", "Pull records waiting to be written to Postgres", multiprocess_mode="livesum"
)


def forget_dead_processes() -> None:
    """Drop the live gauges of web processes that died (uvicorn starts another in their place): their
    pulls no longer wait. Counters and histograms keep a dead process's counts, as Prometheus expects."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    for name in os.listdir(folder):
        if name.startswith("gauge_live") and not _alive(pid := int(name.rsplit("_", 1)[1].removesuffix(".db"))):
            multiprocess.mark_process_dead(pid, folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    return True


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
