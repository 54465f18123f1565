"""Stores fail mid-traffic: pulls of known tokens go on, and the metrics API still counts every pull.

Each test makes a few hundred manifest GETs from a few threads while it kills or restarts one store,
with a housekeeper running beside the server as the stack runs one, then compares the metrics API's
count with the pulls it made.
"""

from __future__ import annotations

import base64
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import InterfaceError, OperationalError, connections

from metrics import counters
from metrics.models import PullEvent
from tests.support.factories import UserFactory, api_token
from tests.support.helpers import wait_until
from tests.support.servers import server_env
from tests.support.stores import restart_postgres, restart_redis
from wave_site.dbpool import SWEEP_EVERY


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

READER = "usage-fault-reader"
MANIFEST = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


@pytest.fixture
def housekeeper(tmp_path):
    """`manage.py housekeep` as the stack runs it, every half second, on the test database."""
    counters.reset()
    with (tmp_path / "housekeeper.log").open("w") as log:
        process = subprocess.Popen([sys.executable, "manage.py", "housekeep"], cwd=settings.BASE_DIR,
                                   env=server_env(WAVE_HOUSEKEEPING_EVERY="0.5"), stdout=log, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    process.wait(20)


@pytest.fixture
def reader():
    user = UserFactory(username=READER)
    user.user_permissions.add(Permission.objects.get(codename="view_usage_metrics"))
    return user


def auth() -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{READER}:password".encode()).decode()}


def tokens(server, busybox) -> dict[str, str]:
    """Two known tokens (a user's, an anonymous one), pulled once so that Redis caches them."""
    user_token = api_token(UserFactory(email="puller@seqera.io"))
    made = {
        "seqera.io": server.request_container({"containerImage": busybox, "towerAccessToken": user_token})["containerToken"],
        "": server.request_container({"containerImage": busybox})["containerToken"],
    }
    for token in made.values():
        assert pull(server, token) == 200
    return made


def pull(server, token: str) -> int:
    try:
        url = f"{server.url}/v2/wt/{token}/library/busybox/manifests/latest"
        return httpx.get(url, headers=MANIFEST, timeout=30).status_code
    except httpx.TransportError:
        return 0


class Traffic:
    """`total` pulls from `threads` threads, round-robin over the tokens, a pause between a thread's pulls."""

    def __init__(self, server, tokens: dict[str, str], total: int, threads: int = 4, pause: float = 0.02):
        self.statuses: Counter = Counter()
        self.by_org: Counter = Counter()
        self.made = 0
        self._lock = threading.Lock()
        work = [list(tokens.items())[i % len(tokens)] for i in range(total)]
        self._threads = [threading.Thread(target=self._run, args=(server, work[i::threads], pause)) for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self, server, work, pause: float) -> None:
        for org, token in work:
            status = pull(server, token)
            with self._lock:
                self.statuses[status] += 1
                self.by_org[org] += status == 200
                self.made += 1
            time.sleep(pause)

    def join(self) -> Counter:
        for thread in self._threads:
            thread.join(300)
        return self.statuses


def settled(check):
    """`check()` with the test's own database connection replaced when a restart broke it."""
    def attempt():
        try:
            return check()
        except (OperationalError, InterfaceError):
            connections.close_all()
            return None
    return attempt


def metrics_count(server, **params) -> int:
    response = httpx.get(f"{server.url}/v1alpha2/metrics/pulls", params=params, headers=auth(), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def counted_in_redis() -> int:
    return int(redis.Redis.from_url(settings.REDIS_URL).hget(counters.HASH, "pulls") or 0)


def assert_every_pull_counted(server, traffic: Traffic, before: int) -> None:
    made = traffic.by_org[""] + traffic.by_org["seqera.io"]
    wait_until(settled(lambda: PullEvent.objects.count() == before + made), timeout=60, every=0.5)
    assert metrics_count(server) == before + made  # exact at once: Redis up to its cursor, Postgres after it
    assert metrics_count(server, org="seqera.io") == traffic.by_org["seqera.io"] + 1
    # Within the documented window (a housekeeping round) Redis itself has counted them all.
    wait_until(lambda: counted_in_redis() == before + made, timeout=30, every=0.25)
    assert metrics_count(server) == before + made


def test_killing_redis_mid_traffic_fails_no_pull_and_loses_no_count(wave_server, busybox, reader, housekeeper):
    known = tokens(wave_server, busybox)
    wait_until(lambda: counted_in_redis() == 2, timeout=30)  # the housekeeper is counting
    traffic = Traffic(wave_server, known, total=300)
    wait_until(lambda: traffic.made >= 100, timeout=60, every=0.05)
    restart_redis(2, signal.SIGKILL)  # loses what its AOF had not synced: counts and cursor together
    statuses = traffic.join()
    assert statuses == {200: 300}
    assert_every_pull_counted(wave_server, traffic, before=2)


def test_restarting_postgres_mid_traffic_fails_no_pull_and_loses_no_record(wave_server, busybox, reader, housekeeper):
    known = tokens(wave_server, busybox)
    traffic = Traffic(wave_server, known, total=300, pause=0.05)
    wait_until(lambda: traffic.made >= 60, timeout=60, every=0.05)
    restart_postgres(7)
    made_while_down = traffic.made
    statuses = traffic.join()
    assert statuses == {200: 300}
    assert made_while_down < 300  # the outage was mid-traffic
    assert_every_pull_counted(wave_server, traffic, before=2)


def unavailable_counts(server) -> dict[str, float]:
    """What the server did without Redis so far, by use (a failure names the use that did)."""
    scrape = httpx.get(f"{server.url}/metrics", headers=auth(), timeout=30).text
    return {use: float(n) for use, n in re.findall(r'^wave_redis_unavailable_total\{use="([^"]*)"\} (\S+)$', scrape, re.M)}


def test_after_a_redis_restart_stale_connections_are_replaced_not_failed(wave_server, busybox, reader):
    known = tokens(wave_server, busybox)
    assert Traffic(wave_server, known, total=64, threads=16, pause=0).join() == {200: 64}  # pooled connections
    before = unavailable_counts(wave_server)
    restart_redis(1)  # no request in between: every pooled connection is stale
    assert Traffic(wave_server, known, total=64, threads=16, pause=0).join() == {200: 64}
    assert unavailable_counts(wave_server) == before  # reconnected on retry, not carried on without Redis


def test_after_a_postgres_restart_stale_connections_are_replaced_not_failed(wave_server, busybox):
    # Requests that read Postgres (container requests, not cached pulls) on a server whose pool was full
    # of connections the restart cut. The pool checks each one it hands out, but backs off 1, 2, 4 s
    # after each failed check: a request meeting four dead ones failed at the pool's 10 s timeout. The
    # web process's sweeper replaces them first.
    body = {"containerImage": busybox}
    with ThreadPoolExecutor(16) as pool:
        assert Counter(pool.map(lambda _: request_status(wave_server, body), range(48))) == {200: 48}  # a full pool
    restart_postgres(1)  # no request in between: every pooled connection is stale
    wait_until(settled(lambda: PullEvent.objects.exists() or True), timeout=30)  # this test's own, for its teardown
    time.sleep(SWEEP_EVERY + 1)
    assert [request_status(wave_server, body) for _ in range(4)] == [200] * 4
    with ThreadPoolExecutor(8) as pool:
        assert Counter(pool.map(lambda _: request_status(wave_server, body), range(32))) == {200: 32}


def request_status(server, body: dict) -> int:
    return httpx.post(f"{server.url}/v1alpha2/container", json=body, timeout=60).status_code


def test_a_transaction_redis_acknowledged_before_a_kill_is_there_after_it():
    # The counters' cursor moves with its counts in one MULTI, as RQ's enqueues are written: both
    # rely on Redis replaying transactions from its append-only file (see scripts/stack).
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"wave:test:aof:{time.time_ns()}"
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, "counts", 1).hset(key, "cursor", 2).execute()
    time.sleep(1.5)  # appendfsync everysec
    restart_redis(1, signal.SIGKILL)

    def read():
        try:
            return client.hgetall(key)
        except redis.BusyLoadingError:
            return None
    try:
        assert wait_until(read, timeout=30, every=0.1) == {b"counts": b"1", b"cursor": b"2"}
    finally:
        client.delete(key)
