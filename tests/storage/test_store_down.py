"""The object store down: requests that need it get a 503 naming it (never a 500), builds fail with a
reason naming it. "Down" is a store URL on a port nothing listens on, for this test's own server,
worker or settings only: the stack's SeaweedFS keeps serving the rest of the suite."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from builds.models import Build, StoredBlob
from containers.models import ContainerRequest
from oci.layer import LayerBuilder

from tests.support.context_tars import wave_cli_context
from tests.support.helpers import REGISTRY, b64, post, wait_until
from tests.support.servers import start_server, start_worker, stop_server
from tests.support.stores import closed_store


def a_new_layer() -> dict:
    layer = LayerBuilder().add_file("opt/x", uuid.uuid4().bytes).build()  # never stored before
    return {"location": "data:" + base64.b64encode(layer.gzip).decode(), "gzipDigest": layer.gzip_digest,
            "gzipSize": layer.size, "tarDigest": layer.tar_digest}


@pytest.mark.django_db
def test_a_request_with_a_layer_gets_a_503_naming_the_store_and_leaves_nothing(api, busybox, settings):
    settings.WAVE_STORAGE_URL, name = closed_store()
    layer = a_new_layer()
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "containerConfig": {"layers": [layer]}})
    assert response.status_code == 503, response.content
    assert response.json()["message"] == f"Unavailable: {name}: cannot connect"
    assert not StoredBlob.objects.filter(digest=layer["gzipDigest"]).exists()
    assert not ContainerRequest.objects.exists()


@pytest.mark.django_db
def test_a_request_with_a_build_context_gets_a_503_naming_the_store(api, settings):
    settings.WAVE_STORAGE_URL, name = closed_store()
    context = wave_cli_context({"a.txt": uuid.uuid4().hex.encode()})
    response = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {REGISTRY}/library/busybox\n"),
                                                 "buildContext": context})
    assert response.status_code == 503, response.content
    assert name in response.json()["message"]
    assert not Build.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_build_whose_context_cannot_be_read_fails_naming_the_store(tmp_path):
    """The request is stored through a server on the real store; the worker's store is down."""
    url, name = closed_store()
    queue = f"store-down-{uuid.uuid4().hex[:8]}"
    server = start_server(tmp_path / "server.log", WAVE_BUILD_QUEUE=queue)
    worker = start_worker(tmp_path / "worker.log", queue, WAVE_BUILD_QUEUE=queue, WAVE_STORAGE_URL=url)
    try:
        dockerfile = f"FROM {REGISTRY}/library/busybox\nRUN echo {uuid.uuid4().hex}\n"
        answer = server.request_container({"containerFile": b64(dockerfile),
                                           "buildContext": wave_cli_context({"a.txt": b"a"})})

        def finished():
            status = httpx.get(f"{server.url}/v1alpha1/builds/{answer['buildId']}/status").json()
            return status if status["status"] == "COMPLETED" else None

        assert wait_until(finished, timeout=120)["succeeded"] is False
    finally:
        stop_server(server)
        worker.terminate()
        worker.wait(20)
    build = Build.objects.get(pk=answer["buildId"])
    assert build.reason.startswith(f"The build context {build.context['buildContext']['gzipDigest']} could not be read: {name}: cannot connect"), build.reason


@pytest.mark.django_db(transaction=True)
def test_a_pull_that_needs_a_rewritten_config_gets_a_503_naming_the_store(busybox, tmp_path):
    """A changed config is stored when the manifest is first served: on a server whose store is down."""
    url, name = closed_store()
    server = start_server(tmp_path / "server.log", WAVE_STORAGE_URL=url)
    try:
        token = server.request_container({"containerImage": busybox,
                                          "containerConfig": {"env": [f"X={uuid.uuid4().hex}"]}})["containerToken"]
        response = httpx.get(f"{server.url}/v2/wt/{token}/library/busybox/manifests/latest")
    finally:
        stop_server(server)
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0] == {"code": "UNAVAILABLE", "message": f"Unavailable: {name}: cannot connect",
                                            "detail": None}
