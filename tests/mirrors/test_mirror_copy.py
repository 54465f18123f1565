"""A mirror end to end: requested over the API, copied by the stack's kind of worker, pulled from the
target with skopeo and run with podman."""

from __future__ import annotations

import asyncio
import base64
import json
import sys

import django_rq
import pytest
from django.conf import settings as django_settings

from mirrors.models import Mirror
from oci.auth import Credentials
from oci.client import RegistryClient
from tests.support.bigblob import push_big_image
from tests.support.factories import registry_credential
from tests.support.helpers import REGISTRY, own_registry_credentials, post, run, wait_until
from tests.support.servers import server_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def _tree(client: RegistryClient, path: str, reference: str) -> dict[str, object]:
    """Every manifest of an image (raw bytes by digest) and whether each blob they name is there."""
    top = await client.get_manifest(path, reference)
    tree: dict[str, object] = {"top": top.digest, top.digest: top.raw}
    children = [await client.get_manifest(path, entry["digest"]) for entry in top.json["manifests"]] if top.is_index else [top]
    for child in children:
        tree[child.digest] = child.raw
        for descriptor in [child.json["config"], *child.json["layers"]]:
            tree[descriptor["digest"]] = await client.blob_exists(path, descriptor["digest"])
    return tree


def tree(host: str, path: str, reference: str, credentials: Credentials) -> dict[str, object]:
    async def read():
        async with RegistryClient(host, credentials) as client:
            return await _tree(client, path, reference)

    return asyncio.run(read())


@pytest.fixture
def authfile(private_registry, tmp_path) -> str:
    path = tmp_path / "auth.json"
    path.touch(mode=0o600)
    secret = base64.b64encode(f"{private_registry.username}:{private_registry.password}".encode()).decode()
    path.write_text(json.dumps({"auths": {private_registry.host: {"auth": secret}}}))
    return str(path)


def test_an_index_is_mirrored_by_the_worker_digest_for_digest_and_runs_from_the_target(
    api, multiarch, owner, owner_token, private_registry, build_worker, podman, authfile, tmp_path
):
    registry_credential(private_registry.host, private_registry.username, private_registry.password, user=owner)
    body = post(api, "/v1alpha2/container", {
        "containerImage": multiarch, "mirror": True, "buildRepository": f"{private_registry.host}/e2e",
        "towerAccessToken": owner_token,
    }).json()
    target = body["targetImage"]
    assert target == f"{private_registry.host}/e2e/library/multiarch:latest" and "succeeded" not in body

    status_url = f"/v1alpha2/container/{body['requestId']}/status"
    status = wait_until(lambda: (s := api.get(status_url).json())["status"] == "DONE" and s, timeout=120)
    mirror = Mirror.objects.get(pk=body["buildId"])
    assert status["succeeded"] is True, mirror.reason

    credentials = Credentials(private_registry.username, private_registry.password)
    source = tree(REGISTRY, "library/multiarch", "latest", own_registry_credentials(REGISTRY))
    copied = tree(private_registry.host, "e2e/library/multiarch", "latest", credentials)
    assert copied == source  # the same index, manifests byte for byte, every blob present
    assert len(source) == 1 + 1 + 2 + 2 * 2  # top, index, two images, a config and a layer each
    assert all(value is True for key, value in copied.items() if isinstance(value, bool))
    assert copied["top"] == mirror.digest

    # skopeo reads each platform from the target, by the source's digests.
    index = json.loads(source[source["top"]])
    for entry in index["manifests"]:
        arch = entry["platform"]["architecture"]
        run("skopeo", "copy", "--src-tls-verify=false", "--src-authfile", authfile, "--override-arch", arch,
            f"docker://{target}", f"oci:{tmp_path / arch}:latest")
        layout = json.loads((tmp_path / arch / "index.json").read_text())
        assert layout["manifests"][0]["digest"] == entry["digest"]

    # podman runs the amd64 image (busybox) pulled from the mirror.
    output = podman("run", "--rm", "--tls-verify=false", "--authfile", authfile, "--network", "none", target, "echo", "from the mirror")
    assert output.stdout.strip() == "from the mirror"


HWM_SCRIPT = """
import re, sys, django
django.setup()
from mirrors.jobs import run_mirror
hwm = lambda: int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
before = hwm()
run_mirror(sys.argv[1])
print(before, hwm())
"""


@pytest.fixture
def no_worker(settings):
    """Jobs go to a queue no worker takes: the test runs the job itself."""
    settings.WAVE_BUILD_QUEUE = "idle"
    yield
    django_rq.get_queue("idle").empty()


def test_a_big_blob_streams_through_the_copy_with_flat_memory(api, owner, owner_token, private_registry, no_worker):
    size = 256 * 1024 * 1024
    layer = push_big_image(REGISTRY, "mirror-big/blob", size, seed=7, credentials=own_registry_credentials(REGISTRY))
    registry_credential(private_registry.host, private_registry.username, private_registry.password, user=owner)
    body = post(api, "/v1alpha2/container", {
        "containerImage": f"{REGISTRY}/mirror-big/blob:latest", "mirror": True,
        "buildRepository": f"{private_registry.host}/big", "towerAccessToken": owner_token,
    }).json()
    result = run(sys.executable, "-c", HWM_SCRIPT, body["buildId"], cwd=django_settings.BASE_DIR, env=server_env())
    before, after = map(int, result.stdout.split()[-2:])
    mirror = Mirror.objects.get(pk=body["buildId"])
    assert mirror.status == Mirror.Status.SUCCEEDED, mirror.reason
    assert f"Copied blob {layer} ({size} bytes)" in mirror.log
    growth_mib = (after - before) / 1024
    assert growth_mib < 64, f"the job's peak memory grew by {growth_mib:.0f} MiB while copying {size >> 20} MiB"
    print(f"peak memory growth while copying {size >> 20} MiB: {growth_mib:.1f} MiB")
