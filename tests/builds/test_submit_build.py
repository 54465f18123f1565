"""`submit_build` claims the row first: one build and one charge of the rate limit per content hash,
whoever races, and the registry is asked outside any transaction."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from accounts.identity import ANONYMOUS
from builds.models import Build
from builds.services import BuildPlan, submit_build
from tests.support.helpers import REGISTRY, wait_until
from wave_site.errors import InvalidRequest, TooManyRequests

pytestmark = pytest.mark.django_db(transaction=True)



def plan() -> BuildPlan:
    build_hash = uuid.uuid4().hex[:16]
    return BuildPlan(
        content_hash=build_hash, container_file="FROM x\n", conda_file="", platform="linux/amd64",
        build_repository=f"{REGISTRY}/x", cache_repository="", target_image=f"{REGISTRY}/x:{build_hash}",
        format="docker", freeze=False,
    )


class Registry:
    """The registry as `submit_build` sees it (its `image_exists`), noting whether a transaction was open."""

    def __init__(self, exists: bool = False, error: Exception | None = None) -> None:
        self.exists, self.error, self.asked_in_transaction = exists, error, []

    def __call__(self) -> bool:
        self.asked_in_transaction.append(connection.in_atomic_block)
        if self.error:
            raise self.error
        return self.exists


def inserts_waiting_on_a_lock() -> int:
    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=db["NAME"]) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"builds_build\"%%'"
        ).fetchone()[0]


def test_two_racing_submits_make_one_build_and_charge_the_limit_once():
    the_plan, registry, charges, results = plan(), Registry(), [], {}
    second_may_go, first_may_commit = threading.Event(), threading.Event()

    def count_build() -> None:  # called inside the claim's transaction, after its INSERT
        charges.append(threading.current_thread().name)
        if threading.current_thread().name == "first":
            second_may_go.set()
            first_may_commit.wait(30)

    def submit(name: str) -> None:
        try:
            if name == "second":
                second_may_go.wait(30)
            results[name] = submit_build(the_plan, ANONYMOUS, registry, count_build)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(name,), name=name) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    # The second INSERT of the same (hash, number) waits on the first's uncommitted row: a real race.
    wait_until(inserts_waiting_on_a_lock, timeout=30, every=0.05)
    first_may_commit.set()
    for thread in threads:
        thread.join(30)

    assert charges == ["first"]
    assert results["first"][0].id == results["second"][0].id == f"{the_plan.content_hash}_1"
    assert Build.objects.filter(content_hash=the_plan.content_hash).count() == 1
    assert registry.asked_in_transaction == [False]


def test_the_registry_is_asked_outside_any_transaction_and_an_image_found_is_recorded():
    the_plan, registry = plan(), Registry(exists=True)
    build, cached = submit_build(the_plan, ANONYMOUS, registry)
    assert cached is True and registry.asked_in_transaction == [False]
    row = Build.objects.get(pk=build.pk)
    assert (row.status, row.from_registry, row.exit_status) == (Build.Status.SUCCEEDED, True, 0)
    assert row.log == f"{the_plan.target_image} is already in the registry: nothing to build\n"
    assert submit_build(the_plan, ANONYMOUS, Registry()) == (row, True)


def test_a_refusal_by_the_rate_limit_takes_the_claim_back():
    the_plan = plan()

    def refuse() -> None:
        raise TooManyRequests("Too many builds", retry_after=60)

    with pytest.raises(TooManyRequests):
        submit_build(the_plan, ANONYMOUS, Registry(), refuse)
    assert not Build.objects.filter(content_hash=the_plan.content_hash).exists()


def test_a_registry_that_cannot_be_checked_fails_the_claimed_build_with_its_message():
    the_plan = plan()
    with pytest.raises(InvalidRequest, match="cannot be checked"):
        submit_build(the_plan, ANONYMOUS, Registry(error=InvalidRequest("Build repository 'x' cannot be checked: down")))
    row = Build.objects.get(content_hash=the_plan.content_hash)
    assert row.status == Build.Status.FAILED and row.reason == "Build repository 'x' cannot be checked: down"
    retried, cached = submit_build(the_plan, ANONYMOUS, Registry())
    assert (retried.number, cached) == (2, False)
