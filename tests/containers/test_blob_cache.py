"""The blob cache, on the real stack: a large blob's first pull streams and queues its copy into the
object store; later pulls get a 307 to a presigned URL of the store. Attacked: tokens that do not
grant the blob, an image naming someone else's cached digest, an upstream serving wrong bytes, a
copy gone from the store."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings

from containers import blob_cache
from oci import mediatypes
from oci.image import canonical_json
from tests.support.bigblob import push_big_image
from tests.support.fake_registry import FakeRegistry
from tests.support.helpers import free_port, own_registry_credentials, run, wait_until
from tests.support.servers import start_server, start_worker, stop_server
from wave_site import storage

pytestmark = [pytest.mark.django_db(transaction=True)]

if storage.store().presigned_get("probe", 60) is None:
    pytest.skip("the blob cache redirects only from a store with presigned URLs (S3)", allow_module_level=True)

SIZE = 6 * 1024 * 1024  # above the server's threshold (256 KiB here)


@pytest.fixture(scope="module")
def cache_server(django_db_setup, clean_redis, tmp_path_factory):
    """Redis is flushed once per session: before this module's records, not after them."""
    logs = tmp_path_factory.mktemp("blob-cache")
    server = start_server(logs / "web.log", WAVE_BLOB_CACHE_MIN_SIZE="256k")
    worker = start_worker(logs / "worker.log")
    yield server
    worker.terminate()
    worker.wait(30)
    stop_server(server)
    for key in _redis().scan_iter("wave:blobcache:*"):  # the other modules' servers would redirect these blobs
        _redis().delete(key)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _cached(digest: str) -> bool:
    return _redis().exists(f"wave:blobcache:{digest}") == 1


def _pull(url: str, **kwargs) -> tuple[int, str]:
    """GET a blob (following redirects when asked): status and the sha256 of the body."""
    with httpx.stream("GET", url, timeout=120, **kwargs) as response:
        sha = hashlib.sha256()
        for chunk in response.iter_bytes():
            sha.update(chunk)
        return response.status_code, "sha256:" + sha.hexdigest()


@pytest.fixture(scope="module")
def big(cache_server, registry):
    """A token for an image with one 6 MiB layer, the layer's digest and its /v2/ URL."""
    digest = push_big_image(registry, "cache/big", SIZE, seed=14, credentials=own_registry_credentials(registry))
    token = cache_server.request_container({"containerImage": f"{registry}/cache/big:latest"})["containerToken"]
    return token, digest, f"{cache_server.url}/v2/wt/{token}/cache/big/blobs/{digest}"


@pytest.fixture(scope="module")
def warm(big):
    """The big layer pulled once (streamed) and copied into the store by the worker."""
    token, digest, url = big
    _redis().delete(f"wave:blobcache:{digest}")
    storage.store().delete(blob_cache.store_key(digest))
    assert _pull(url) == (200, digest)
    wait_until(lambda: _cached(digest), timeout=120)
    return big


def test_the_first_pull_streams_and_later_pulls_are_redirected_to_a_presigned_url(warm):
    token, digest, url = warm
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Cache-Control"] == "no-store"
    location = response.headers["Location"]
    assert blob_cache.store_key(digest) in location and "X-Amz-Signature=" in location
    assert storage.store().size(blob_cache.store_key(digest)) == SIZE
    assert _pull(location) == (200, digest)  # the store serves the verified bytes
    assert _pull(url, follow_redirects=True) == (200, digest)


def test_every_redirect_is_signed_anew_so_none_has_expired(warm, settings):
    _, _, url = warm
    first = httpx.get(url).headers["Location"]
    expiry = int(httpx.URL(first).params["X-Amz-Expires"])
    assert expiry == settings.WAVE_BLOB_CACHE_URL_TTL
    wait_until(lambda: httpx.get(url).headers["Location"] != first, timeout=5)  # the signing time moved on


def test_a_range_follows_the_redirect(warm):
    _, digest, url = warm
    response = httpx.get(url, headers={"Range": "bytes=10-19"}, follow_redirects=True)
    assert response.status_code == 206 and len(response.content) == 10
    whole = httpx.get(url, follow_redirects=True).content
    assert response.content == whole[10:20]


def test_a_small_blob_always_streams(cache_server, registry):
    digest = push_big_image(registry, "cache/small", 64 * 1024, seed=15, credentials=own_registry_credentials(registry))
    token = cache_server.request_container({"containerImage": f"{registry}/cache/small:latest"})["containerToken"]
    url = f"{cache_server.url}/v2/wt/{token}/cache/small/blobs/{digest}"
    for _ in range(2):
        assert _pull(url) == (200, digest)
    assert not _cached(digest) and not _redis().exists(f"wave:blobcache:copying:{digest}")


def test_a_token_that_does_not_grant_the_cached_blob_gets_no_redirect(warm, cache_server, registry):
    _, digest, _ = warm
    other = cache_server.request_container({"containerImage": f"{registry}/library/busybox:latest"})["containerToken"]
    response = httpx.get(f"{cache_server.url}/v2/wt/{other}/library/busybox/blobs/{digest}")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    assert "Location" not in response.headers


def test_an_image_naming_a_cached_digest_its_registry_lacks_gets_no_redirect(warm, cache_server):
    """A manifest can name any digest: knowing a private layer's digest must not fetch it from the cache."""
    _, digest, _ = warm
    fake = FakeRegistry()
    try:
        config = canonical_json({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [digest]}})
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        fake.blobs[config_digest] = config
        fake.manifest = canonical_json({
            "schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
            "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": mediatypes.OCI_LAYER_GZIP, "digest": digest, "size": SIZE}],
        })
        token = cache_server.request_container({"containerImage": f"{fake.host}/thief/image:latest"})["containerToken"]
        assert httpx.get(f"{cache_server.url}/v2/wt/{token}/thief/image/manifests/latest").status_code == 200
        response = httpx.get(f"{cache_server.url}/v2/wt/{token}/thief/image/blobs/{digest}")
        assert response.status_code == 404, response.headers
        assert "Location" not in response.headers
    finally:
        fake.close()


def test_a_copy_gone_from_the_store_streams_and_is_copied_again(warm):
    _, digest, url = warm
    storage.store().delete(blob_cache.store_key(digest))
    size = SIZE
    _redis().set(f"wave:blobcache:{digest}", f"{size} 0")  # checked long ago: the next pull looks
    assert _pull(url, follow_redirects=False) == (200, digest)
    wait_until(lambda: storage.store().size(blob_cache.store_key(digest)) == SIZE, timeout=120)
    wait_until(lambda: _cached(digest), timeout=30)
    assert httpx.get(url).status_code == 307


def test_a_store_that_does_not_answer_makes_pulls_stream(warm, cache_server, tmp_path):
    """A server whose store is down (a closed port) streams a recorded blob instead of failing."""
    _, digest, url = warm
    down = start_server(tmp_path / "web.log", WAVE_STORAGE_URL=f"s3://wave?endpoint=http://127.0.0.1:{free_port()}")
    try:
        _redis().set(f"wave:blobcache:{digest}", f"{SIZE} 0")  # due for a look at the store
        assert _pull(url.replace(cache_server.url, down.url), follow_redirects=False) == (200, digest)
    finally:
        stop_server(down)
        _redis().set(f"wave:blobcache:{digest}", f"{SIZE} {int(time.time())}")


def test_the_copy_job_refuses_bytes_that_do_not_hash_to_the_digest(db):
    """An upstream that lies about a blob: nothing is recorded, so no pull is ever redirected to it."""
    fake = FakeRegistry()
    try:
        honest = b"the real layer" * 1000
        digest = "sha256:" + hashlib.sha256(honest).hexdigest()
        fake.blobs[digest] = b"something else" * 1000
        outcome = blob_cache.copy_blob(digest, fake.host, "liar/image", None, None, len(honest))
        assert outcome.startswith("digest mismatch")
        assert not _cached(digest)
        assert storage.store().size(blob_cache.store_key(digest)) is None
    finally:
        fake.close()


def test_the_copy_job_stops_an_upstream_that_sends_more_than_the_pull_saw(db, settings, tmp_path):
    """A stranger's registry that answers the job with an endless body must not fill the disk: the
    job stops past the size the pull was answered with, and nothing is stored."""
    settings.WAVE_DATA_DIR = tmp_path  # its own scratch folder: a worker may be copying another blob
    fake = FakeRegistry()
    try:
        pulled = b"the layer as pulled" * 1000
        digest = "sha256:" + hashlib.sha256(pulled).hexdigest()
        fake.blobs[digest] = pulled + b"and then some more" * 1000
        outcome = blob_cache.copy_blob(digest, fake.host, "liar/image", None, None, len(pulled))
        assert outcome == f"larger than {len(pulled)} bytes: not cached"
        assert not _cached(digest)
        assert storage.store().size(blob_cache.store_key(digest)) is None
        assert not list((tmp_path / "blobcache").iterdir())  # the scratch file is gone
    finally:
        fake.close()


def test_the_copy_job_run_twice_copies_once(warm):
    _, digest, _ = warm
    assert blob_cache.copy_blob(digest, "unused.example", "unused/path", None, None, SIZE) == "already cached"


def test_skopeo_pulls_through_the_redirect_and_verifies_the_digest(warm, cache_server, tmp_path):
    token, digest, url = warm
    assert httpx.get(url).status_code == 307
    copy = tmp_path / "copy"  # `dir:` keeps blobs as they came (`oci:` would gzip this random layer)
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{cache_server.authority}/wt/{token}/cache/big:latest", f"dir:{copy}")
    layer = (copy / digest.split(":")[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(layer).hexdigest() == digest


def _warm_largest_layer(server, token: str) -> str:
    """Pull the token's busybox layer once (streamed, or redirected when an earlier test cached it)
    and wait until it is cached; its digest."""
    accept = {"Accept": f"{mediatypes.OCI_MANIFEST},{mediatypes.DOCKER_MANIFEST}"}
    manifest = httpx.get(f"{server.url}/v2/wt/{token}/library/busybox/manifests/latest", headers=accept).json()
    layer = max(manifest["layers"], key=lambda entry: entry["size"])["digest"]
    assert _pull(f"{server.url}/v2/wt/{token}/library/busybox/blobs/{layer}", follow_redirects=True) == (200, layer)
    wait_until(lambda: _cached(layer), timeout=120)
    return layer


def test_podman_pulls_and_runs_an_image_whose_layer_came_by_redirect(cache_server, busybox, podman):
    token = cache_server.request_container({"containerImage": busybox})["containerToken"]
    image = f"{cache_server.authority}/wt/{token}/library/busybox:latest"
    layer = _warm_largest_layer(cache_server, token)
    assert httpx.get(f"{cache_server.url}/v2/wt/{token}/library/busybox/blobs/{layer}").status_code == 307
    podman("pull", "--tls-verify=false", image)
    assert podman("run", "--rm", image, "echo", "redirected").stdout.strip() == "redirected"


@pytest.fixture(scope="module")
def docker():
    """`docker` against a dockerd of this module's own (Debian's docker.io): no iptables, no bridge,
    vfs storage, which work in a container; its socket in a short path (a socket's is limited)."""
    root = Path(tempfile.mkdtemp(prefix="wave-dockerd-"))
    socket = f"unix://{root}/sock"
    with (root / "log").open("w") as log:
        daemon = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
             "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile", str(root / "pid"), "--host", socket],
            stdout=log, stderr=subprocess.STDOUT,
        )
    env = {**os.environ, "DOCKER_HOST": socket}

    def docker_run(*args: str) -> subprocess.CompletedProcess:
        return run("docker", *args, env=env)

    try:
        wait_until(lambda: subprocess.run(["docker", "info"], env=env, capture_output=True).returncode == 0, timeout=60)
        yield docker_run
    finally:
        daemon.terminate()
        daemon.wait(60)
        shutil.rmtree(root, ignore_errors=True)


def test_docker_pulls_and_runs_an_image_whose_layer_came_by_redirect(cache_server, busybox, docker):
    token = cache_server.request_container({"containerImage": busybox})["containerToken"]
    image = f"{cache_server.authority}/wt/{token}/library/busybox:latest"
    layer = _warm_largest_layer(cache_server, token)
    assert httpx.get(f"{cache_server.url}/v2/wt/{token}/library/busybox/blobs/{layer}").status_code == 307
    docker("pull", image)  # docker trusts plain HTTP on localhost; it verifies every blob's digest
    assert docker("run", "--rm", "--network", "none", image, "echo", "redirected").stdout.strip() == "redirected"
