"""Stored request data has a lifecycle: a refused request stores nothing, and the housekeeper
collects the blobs no live request or unfinished build needs once their grace period is over."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import Build, StoredBlob
from containers.lifecycle import collect_blobs
from containers.models import ContainerRequest
from oci.layer import LayerBuilder
from wave_site.storage import store
from tests.support.context_tars import wave_cli_context
from tests.support.factories import BuildFactory
from tests.support.helpers import REGISTRY, dockerfile, post

pytestmark = pytest.mark.django_db

MISSING = f"{REGISTRY}/library/no-such-image:latest"


def fresh_layer() -> dict:
    layer = LayerBuilder().add_file("opt/marker", uuid.uuid4().bytes).build()
    return {
        "location": "data:" + base64.b64encode(layer.gzip).decode(),
        "gzipDigest": layer.gzip_digest, "gzipSize": layer.size, "tarDigest": layer.tar_digest,
    }


def refusals(busybox: str):
    """(name, settings, body) of requests refused after their layers and context were verified."""
    return [
        ("the image does not exist", {}, lambda layer, ctx: {"containerImage": MISSING, "containerConfig": {"layers": [layer]}}),
        ("an included image does not exist", {}, lambda layer, ctx: {
            "containerImage": busybox, "containerConfig": {"layers": [layer]}, "containerIncludes": [MISSING]}),
        ("the build rate limit", {"WAVE_RATE_LIMIT_BUILDS_ANONYMOUS": "0/3600"}, lambda layer, ctx: {
            "containerFile": dockerfile(), "buildContext": ctx}),
        ("a frozen image's source does not exist", {}, lambda layer, ctx: {
            "containerImage": MISSING, "freeze": True, "buildRepository": f"{REGISTRY}/frozen",
            "containerConfig": {"layers": [layer]}}),
    ]


@pytest.mark.parametrize("case", range(4), ids=["missing image", "missing include", "build rate limit", "freeze source"])
def test_a_refused_request_stores_no_layer_and_no_context(api, busybox, settings, case):
    name, overrides, make = refusals(busybox)[case]
    for key, value in overrides.items():
        setattr(settings, key, value)
    layer, context = fresh_layer(), wave_cli_context({"f.txt": uuid.uuid4().hex.encode()})
    response = post(api, "/v1alpha2/container", make(layer, context))
    assert 400 <= response.status_code < 500, (name, response.json())
    assert not StoredBlob.objects.filter(digest__in=[layer["gzipDigest"], context["gzipDigest"]]).exists(), name


def test_an_accepted_build_stores_its_context_before_its_build_can_run(api):
    context = wave_cli_context({"f.txt": uuid.uuid4().hex.encode()})
    response = post(api, "/v1alpha2/container", {"containerFile": dockerfile(), "buildContext": context})
    assert response.status_code == 200, response.json()
    assert StoredBlob.objects.filter(digest=context["gzipDigest"]).exists()


def age(digest: str, seconds: float) -> None:
    StoredBlob.objects.filter(digest=digest).update(created_at=timezone.now() - timedelta(seconds=seconds))


def accepted_layer(api, busybox) -> tuple[dict, ContainerRequest]:
    layer = fresh_layer()
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "containerConfig": {"layers": [layer]}})
    assert response.status_code == 200, response.json()
    return layer, ContainerRequest.objects.get(token=response.json()["containerToken"])


def exists(digest: str) -> bool:
    return StoredBlob.objects.filter(digest=digest).exists()


def test_a_live_requests_layer_is_kept_and_an_expired_ones_collected(api, busybox, settings):
    settings.WAVE_STORED_BLOB_GRACE = 60
    live, _ = accepted_layer(api, busybox)
    expired, request = accepted_layer(api, busybox)
    revoked, other = accepted_layer(api, busybox)
    ContainerRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    ContainerRequest.objects.filter(pk=other.pk).update(revoked_at=timezone.now())
    for layer in (live, expired, revoked):
        age(layer["gzipDigest"], 120)
    keys = {layer["gzipDigest"]: StoredBlob.objects.get(digest=layer["gzipDigest"]).key for layer in (live, expired, revoked)}
    collect_blobs()
    assert exists(live["gzipDigest"])
    assert not exists(expired["gzipDigest"]) and not exists(revoked["gzipDigest"])
    # The bytes went with the rows, from the object store too.
    assert store().size(keys[live["gzipDigest"]]) == live["gzipSize"]
    assert store().size(keys[expired["gzipDigest"]]) is None and store().size(keys[revoked["gzipDigest"]]) is None


def test_an_unreferenced_blob_within_its_grace_period_is_kept(api, busybox, settings):
    settings.WAVE_STORED_BLOB_GRACE = 3600
    layer, request = accepted_layer(api, busybox)
    ContainerRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    age(layer["gzipDigest"], 60)  # e.g. stored by a request whose row is not committed yet
    collect_blobs()
    assert exists(layer["gzipDigest"])
    age(layer["gzipDigest"], 3601)
    collect_blobs()
    assert not exists(layer["gzipDigest"])


def test_an_unfinished_builds_context_is_kept_until_it_ends(api, settings):
    settings.WAVE_STORED_BLOB_GRACE = 60
    context = wave_cli_context({"f.txt": uuid.uuid4().hex.encode()})
    body = post(api, "/v1alpha2/container", {"containerFile": dockerfile(), "buildContext": context}).json()
    ContainerRequest.objects.filter(pk=body["requestId"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    age(context["gzipDigest"], 120)
    collect_blobs()
    assert exists(context["gzipDigest"])  # the build is pending: its worker reads the context
    Build.objects.filter(pk=body["buildId"]).update(status=Build.Status.FAILED, finished_at=timezone.now())
    age(context["gzipDigest"], 120)
    collect_blobs()
    assert not exists(context["gzipDigest"])


def test_a_reused_layer_is_stamped_again_so_the_collector_leaves_it(api, busybox, settings):
    settings.WAVE_STORED_BLOB_GRACE = 60
    layer, request = accepted_layer(api, busybox)
    ContainerRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    age(layer["gzipDigest"], 120)
    again = post(api, "/v1alpha2/container", {"containerImage": MISSING, "containerConfig": {"layers": [layer]}})
    assert again.status_code == 404  # refused: stores nothing, and the old row is not stamped either
    collect_blobs()
    assert not exists(layer["gzipDigest"])


def test_each_run_does_one_batch_and_referenced_blobs_do_not_block_the_rest(api, busybox, settings):
    settings.WAVE_STORED_BLOB_GRACE, settings.WAVE_COLLECT_BATCH = 60, 2
    StoredBlob.objects.all().delete()
    referenced = [accepted_layer(api, busybox)[0] for _ in range(2)]
    unreferenced = []
    for _ in range(3):
        layer, request = accepted_layer(api, busybox)
        ContainerRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        unreferenced.append(layer)
    for seconds, layer in enumerate(referenced + unreferenced):  # the referenced ones are the oldest
        age(layer["gzipDigest"], 1000 - seconds)
    assert collect_blobs() == 0  # the two oldest are referenced: stamped, and out of the way
    assert collect_blobs() == 2
    assert collect_blobs() == 1
    assert all(exists(layer["gzipDigest"]) for layer in referenced)
    assert not any(exists(layer["gzipDigest"]) for layer in unreferenced)


def test_a_tokens_cached_record_and_its_tombstone_expire_with_the_token(api, busybox, django_capture_on_commit_callbacks):
    # Redis collects these itself: each is written with the time the token has left to live.
    import redis
    from django.conf import settings

    from containers.tokens import revoke

    with django_capture_on_commit_callbacks(execute=True):
        token = post(api, "/v1alpha2/container", {"containerImage": busybox}).json()["containerToken"]
    store, key = redis.Redis.from_url(settings.REDIS_URL), f"wave:token:{token}"
    left = (ContainerRequest.objects.get(pk=token).expires_at - timezone.now()).total_seconds()
    assert store.exists(key) and 0 < store.ttl(key) <= left + 1
    revoke(ContainerRequest.objects.filter(pk=token))
    assert store.get(key) == b"revoked" and 0 < store.ttl(key) <= left + 1


def test_a_build_whose_context_was_collected_fails_saying_so(tmp_path):
    from builds.builders.base import BuildFailed
    from builds.context import write_context

    digest = "sha256:" + "c" * 64
    content_hash = uuid.uuid4().hex[:16]
    build = BuildFactory(content_hash=content_hash, number=2, context={"buildContext": {"gzipDigest": digest, "tarDigest": digest}})
    with pytest.raises(BuildFailed, match=f"The build context {digest} is no longer stored: request the build again"):
        write_context(build, tmp_path)
