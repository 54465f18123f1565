"""A container token grants its image and nothing more of the repository (security review F8).

The attack: a token for `repo:a` asks the service for the manifest, config and layers of `repo:b`
(same repository, another tag) by digest. Each is refused with the registry's 404, also once the
token's reachable set has gone from Redis (it is computed again, never assumed).
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

from builds.models import Build
from containers import proxy
from containers.tokens import load_token
from oci.image import new_image
from oci.layer import LayerBuilder
from oci.platform import Platform
from tests.support.factories import build_token
from tests.support.helpers import REGISTRY, post, push, registry_auth, run
from tests.support.images import ADDED, data_layer, include_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = {"Accept": f"{INDEX}, {MANIFEST}"}


def image_of(text: str):
    layer = LayerBuilder().add_file("etc/which", text.encode()).build()
    return new_image([layer], {"Cmd": ["cat", "/etc/which"], "Env": [f"WHICH={text}"]}, Platform())


@pytest.fixture(scope="module")
def two_tags(registry) -> dict[str, object]:
    """`library/scoped:a` and `:b`, two images of one repository sharing no blob."""
    repository, images = f"library/scoped-{uuid.uuid4().hex[:8]}", {"a": image_of("a"), "b": image_of("b")}
    for tag, image in images.items():
        push(registry, repository, tag, image)
    return {"repository": repository, **images}


def blob_digests(manifest: dict) -> list[str]:
    return [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]


def forget_grant(token: str) -> None:
    """What expiry or eviction does to a token's reachable set."""
    assert redis.Redis.from_url(settings.REDIS_URL).delete(f"wave:grant:{token}") == 1


def assert_refused(response: httpx.Response, code: str, digest: str) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    error = response.json()["errors"][0]
    assert error["code"] == code and digest in error["message"]


@pytest.mark.parametrize("config", [None, {"env": ["A=1"], "layers": [data_layer()]}], ids=["plain", "augmented"])
def test_a_token_for_one_tag_cannot_read_another_tag_of_its_repository_by_digest(wave_server, two_tags, config):
    repository, other = two_tags["repository"], two_tags["b"]
    body = {"containerImage": f"{REGISTRY}/{repository}:a", **({"containerConfig": config} if config else {})}
    token = wave_server.request_container(body)["containerToken"]
    base = f"{wave_server.url}/v2/wt/{token}/{repository}"
    granted = httpx.get(f"{base}/manifests/a", headers=ACCEPT)
    assert granted.status_code == 200
    granted_blobs = blob_digests(granted.json())
    other_blobs = blob_digests(other.manifest.json)
    assert not set(granted_blobs) & set(other_blobs)

    for attempt in ("set cached", "set gone from Redis"):
        if attempt == "set gone from Redis":
            forget_grant(token)
        for method in (httpx.get, httpx.head):
            response = method(f"{base}/manifests/{other.manifest.digest}", headers=ACCEPT)
            assert response.status_code == 404, (attempt, method)
            if method is httpx.get:
                assert_refused(response, "MANIFEST_UNKNOWN", other.manifest.digest)
        for digest in other_blobs:
            assert_refused(httpx.get(f"{base}/blobs/{digest}"), "BLOB_UNKNOWN", digest)
            assert httpx.head(f"{base}/blobs/{digest}").status_code == 404
        for digest in granted_blobs:  # the token's own image still pulls whole
            response = httpx.get(f"{base}/blobs/{digest}")
            assert response.status_code == 200, (attempt, digest, response.text)
        assert httpx.get(f"{base}/manifests/{granted.headers['Docker-Content-Digest']}", headers=ACCEPT).status_code == 200
    # What the upstream really has: b's manifest is there, only the token does not grant it.
    upstream = httpx.get(f"http://{REGISTRY}/v2/{repository}/manifests/{other.manifest.digest}", headers=ACCEPT, auth=registry_auth(REGISTRY))
    assert upstream.status_code == 200


def test_a_multi_arch_token_grants_each_platforms_manifest_and_blobs(wave_server, multiarch):
    token = wave_server.request_container({"containerImage": multiarch})["containerToken"]
    base = f"{wave_server.url}/v2/wt/{token}/library/multiarch"
    index = httpx.get(f"{base}/manifests/latest", headers=ACCEPT).json()
    platforms = {entry["platform"]["architecture"]: entry["digest"] for entry in index["manifests"]}
    assert set(platforms) == {"amd64", "arm64"}
    forget_grant(token)  # the first blob asked for recomputes the set
    for digest in platforms.values():
        child = httpx.get(f"{base}/manifests/{digest}", headers=ACCEPT)
        assert child.status_code == 200 and child.headers["Docker-Content-Digest"] == digest
        for blob in blob_digests(child.json()):
            assert httpx.get(f"{base}/blobs/{blob}").status_code == 200


def test_an_augmented_index_grants_what_it_serves_not_the_entry_it_replaced(wave_server, multiarch):
    body = {"containerImage": multiarch, "containerPlatform": "linux/arm64", "containerConfig": {"env": ["ARCH=arm"]}}
    token = wave_server.request_container(body)["containerToken"]
    base = f"{wave_server.url}/v2/wt/{token}/library/multiarch"
    served = {e["platform"]["architecture"]: e["digest"] for e in httpx.get(f"{base}/manifests/latest", headers=ACCEPT).json()["manifests"]}
    upstream = httpx.get(f"http://{REGISTRY}/v2/library/multiarch/manifests/latest", headers=ACCEPT, auth=registry_auth(REGISTRY)).json()
    original = {e["platform"]["architecture"]: e["digest"] for e in upstream["manifests"]}
    replaced = httpx.get(f"http://{REGISTRY}/v2/library/multiarch/manifests/{original['arm64']}", headers=ACCEPT, auth=registry_auth(REGISTRY)).json()
    assert_refused(httpx.get(f"{base}/manifests/{original['arm64']}", headers=ACCEPT), "MANIFEST_UNKNOWN", original["arm64"])
    # its original config was rewritten: only the rewritten one is granted
    assert_refused(httpx.get(f"{base}/blobs/{replaced['config']['digest']}"), "BLOB_UNKNOWN", replaced["config"]["digest"])
    augmented = httpx.get(f"{base}/manifests/{served['arm64']}", headers=ACCEPT).json()
    for blob in blob_digests(augmented):
        assert httpx.get(f"{base}/blobs/{blob}").status_code == 200
    untouched = httpx.get(f"{base}/manifests/{served['amd64']}", headers=ACCEPT).json()
    for blob in blob_digests(untouched):
        assert httpx.get(f"{base}/blobs/{blob}").status_code == 200


def test_included_layers_are_granted_and_nothing_else_of_their_repository(wave_server, busybox):
    included, image = include_image("scoped", {"opt/scoped.txt": b"included\n"})
    token = wave_server.request_container({"containerImage": busybox, "containerIncludes": [included]})["containerToken"]
    base = f"{wave_server.url}/v2/wt/{token}/library/busybox"
    layer = image.manifest.json["layers"][0]["digest"]
    # No manifest pulled first: no set is stored yet, the blob request computes it.
    assert not redis.Redis.from_url(settings.REDIS_URL).exists(f"wave:grant:{token}")
    assert httpx.get(f"{base}/blobs/{layer}").status_code == 200
    config = image.manifest.json["config"]["digest"]  # in the included image's repository, not included
    assert_refused(httpx.get(f"{base}/blobs/{config}"), "BLOB_UNKNOWN", config)


def test_a_build_tokens_image_pulls_whole_and_nothing_besides(wave_server, registry, busybox, tmp_path):
    token = build_token(busybox, Build.Status.SUCCEEDED)  # a build whose image is busybox:latest
    other = image_of("another build")
    push(registry, "library/busybox", f"other-{uuid.uuid4().hex[:8]}", other)
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{wave_server.authority}/wt/{token}/library/busybox:latest", f"oci:{tmp_path / 'built'}:latest")
    assert len(json.loads((tmp_path / "built" / "index.json").read_text())["manifests"]) == 1
    base = f"{wave_server.url}/v2/wt/{token}/library/busybox"
    assert_refused(httpx.get(f"{base}/manifests/{other.manifest.digest}", headers=ACCEPT), "MANIFEST_UNKNOWN", other.manifest.digest)
    for digest in blob_digests(other.manifest.json):
        assert_refused(httpx.get(f"{base}/blobs/{digest}"), "BLOB_UNKNOWN", digest)


def test_a_token_grants_only_blobs_the_service_made_for_it(wave_server, busybox):
    mine = wave_server.request_container({"containerImage": busybox, "containerConfig": {"layers": [data_layer()]}})["containerToken"]
    plain = wave_server.request_container({"containerImage": busybox})["containerToken"]
    assert httpx.get(f"{wave_server.url}/v2/wt/{mine}/library/busybox/blobs/{ADDED.gzip_digest}").content == ADDED.gzip
    # another token of the same repository cannot read the stored layer by its digest
    refused = httpx.get(f"{wave_server.url}/v2/wt/{plain}/library/busybox/blobs/{ADDED.gzip_digest}")
    assert_refused(refused, "BLOB_UNKNOWN", ADDED.gzip_digest)


def test_an_image_naming_more_than_the_limit_is_refused_before_its_entries_are_fetched(api, multiarch, settings):
    settings.WAVE_TOKEN_MAX_REACHABLE = 2  # the index and its two entries are three
    token = post(api, "/v1alpha2/container", {"containerImage": multiarch}).json()["containerToken"]

    async def pull():
        info = await load_token(token)
        try:
            with pytest.raises(proxy.ProxyError) as refused:
                await proxy.resolve_manifest(info, "latest")
            return refused.value
        finally:
            await sync_to_async(connections.close_all)()

    error = asyncio.run(pull())  # its pooled client goes with its loop (registries.clients)
    assert (error.status, error.code) == (400, "MANIFEST_INVALID")
    assert "WAVE_TOKEN_MAX_REACHABLE=2" in error.message and "3 manifests and blobs" in error.message
