"""`/healthz` (the process answers) and `/readyz` (the stores it needs answer), for `scripts/stack`,
load balancers and Kubernetes probes. Both are public: probes carry no credentials, and the answers
name checks and reasons, never an address's password (README, Static files and health).

Readiness is a list of named checks, each a function that returns when its store answers and raises
with the reason when not; each opens its own short-lived connection with a short timeout, so a store
that is down or hangs fails its line in seconds instead of waiting on the app's pools. Another store
is one more `CHECKS[name] = function`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

import httpx
import psycopg
import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from oci.client import registry_base_url
from wave_site import storage

TIMEOUT = 2  # seconds each check's connection may take (psycopg's least connect_timeout)
DEADLINE = 3  # seconds /readyz waits for all its checks together
FRESH_FOR = 1.0  # seconds a result is reused: a flood of probes opens one connection per store per second


def check_postgres() -> None:
    params = {k: v for k, v in connection.get_connection_params().items() if k not in ("context", "cursor_factory")}
    with psycopg.connect(**params, connect_timeout=TIMEOUT) as conn:
        conn.execute("SELECT 1")


def check_redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


def check_registry() -> None:
    """The default registry answers its API check: 200 with the service's login, or a 401 asking
    for a token (the login is then tried by the pushes themselves)."""
    host = settings.WAVE_DEFAULT_REGISTRY
    creds = settings.WAVE_REGISTRY_CREDENTIALS.get(host)
    url = registry_base_url(host, frozenset(settings.WAVE_INSECURE_REGISTRIES)) + "/v2/"
    auth = (creds.username, creds.password) if creds else None
    response = httpx.get(url, auth=auth, timeout=TIMEOUT)
    if response.status_code == 200:
        return
    basic = response.headers.get("www-authenticate", "").lower().startswith("basic")
    if response.status_code == 401 and not (basic and creds):
        return
    what = "refused the service's login" if response.status_code == 401 else "answered"
    raise RuntimeError(f"{host} {what} ({response.status_code})")


def check_store() -> None:
    """The object store answers for its bucket (or its folder is there)."""
    storage.store().check()


CHECKS: dict[str, Callable[[], None]] = {
    "postgres": check_postgres, "redis": check_redis, "registry": check_registry, "store": check_store,
}

_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _secrets() -> list[str]:
    found = [settings.DATABASES["default"].get("PASSWORD") or ""]
    found.append(redis.connection.parse_url(settings.REDIS_URL).get("password") or "")
    found += [c.password for c in settings.WAVE_REGISTRY_CREDENTIALS.values()]
    found.append(settings.WAVE_STORAGE_SECRET_KEY or "")
    return [s for s in found if len(s) >= 4]


def reason(exc: BaseException) -> str:
    """The first line of the error, without credentials: `down: <reason>`."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    text = _URL_USERINFO.sub("***@", text)
    for secret in _secrets():
        text = text.replace(secret, "***")
    return f"down: {text}"


def _run(check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer, reported by name
        return reason(exc)
    return "ok"


def run_checks(checks: dict[str, Callable[[], None]]) -> dict[str, str]:
    """Every check at once; one still running at DEADLINE is reported as not answering."""
    pool = ThreadPoolExecutor(max_workers=max(len(checks), 1), thread_name_prefix="readyz")
    futures = {name: pool.submit(_run, check) for name, check in checks.items()}
    wait(futures.values(), timeout=DEADLINE)
    pool.shutdown(wait=False)  # a hung check's thread ends with its own timeout, unwaited
    return {
        name: future.result() if future.done() else f"down: no answer within {DEADLINE} s"
        for name, future in futures.items()
    }


_lock = threading.Lock()
_last: tuple[float, dict[str, str]] = (float("-inf"), {})


def readiness() -> dict[str, str]:
    """The checks' results, shared by the probes that arrive while one run is under way or fresh."""
    global _last
    with _lock:
        if time.monotonic() - _last[0] >= FRESH_FOR:
            _last = (time.monotonic(), run_checks(CHECKS))
        return _last[1]


def _method_not_allowed(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": f"Method '{request.method}' is not allowed on {request.path}: use GET"}, status=405)


@csrf_exempt  # a POST gets the JSON 405 below, not the CSRF page
def healthz(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request)
    return JsonResponse({"alive": True})


@csrf_exempt
def readyz(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request)
    checks = readiness()
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)
