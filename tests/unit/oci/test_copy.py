"""ImageCopy against a hostile source registry (httpx MockTransport: the source is the one seam faked;
the real copies are in tests/mirrors)."""

import asyncio
import json

import httpx
import pytest

from oci import mediatypes
from oci.client import RegistryClient
from oci.copy import MAX_INDEX_ENTRIES, ImageCopy
from oci.digest import sha256_digest
from oci.errors import OciError


def serve(manifests: dict[str, bytes]):
    """A source registry that serves these manifests (by tag or digest) and nothing else."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        reference = request.url.path.rsplit("/", 1)[1]
        if "/manifests/" in request.url.path and reference in manifests:
            raw = manifests[reference]
            return httpx.Response(200, content=raw, headers={"Content-Type": json.loads(raw)["mediaType"]})
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def copy(manifests: dict[str, bytes]) -> tuple[list[httpx.Request], str]:
    """Copy `latest` from the hostile source, which must fail; returns what reached the target and why."""
    reached: list[httpx.Request] = []
    target_transport = httpx.MockTransport(lambda request: reached.append(request) or httpx.Response(404))

    async def run():
        async with RegistryClient("source.test", transport=serve(manifests)) as source, \
                RegistryClient("target.test", transport=target_transport) as target:
            await ImageCopy(source, "app", target, "mirror/app", lambda line: None).run("latest", "latest")

    with pytest.raises(OciError) as failure:
        asyncio.run(run())
    return reached, str(failure.value)


def test_a_layer_digest_that_is_a_path_never_reaches_the_target():
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": "sha256:../../../v2/other/manifests/latest", "size": 2},
        "layers": [],
    }).encode()
    reached, message = copy({"latest": manifest})
    assert reached == []
    assert "is not a sha256 digest" in message


def test_an_index_naming_a_path_or_too_many_images_is_refused_before_anything_is_copied():
    index = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                        "manifests": [{"mediaType": mediatypes.OCI_MANIFEST, "digest": "../other", "size": 2}]}).encode()
    reached, message = copy({"latest": index})
    assert reached == [] and "is not a sha256 digest" in message

    entry = {"mediaType": mediatypes.OCI_MANIFEST, "digest": sha256_digest(b"x"), "size": 1}
    index = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                        "manifests": [entry] * (MAX_INDEX_ENTRIES + 1)}).encode()
    reached, message = copy({"latest": index})
    assert reached == [] and f"more than {MAX_INDEX_ENTRIES}" in message


def test_a_nested_index_is_refused():
    inner = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}).encode()
    outer = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [
        {"mediaType": mediatypes.OCI_INDEX, "digest": sha256_digest(inner), "size": len(inner)}]}).encode()
    reached, message = copy({"latest": outer, sha256_digest(inner): inner})
    assert reached == [] and "nests another index" in message
