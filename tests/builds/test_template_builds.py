"""Wave's templates built for real: their build images are public ones the build sandbox cannot
reach here, and the build's reason says which image and why."""

from __future__ import annotations

import httpx
import pytest

from builds.logs import BuildLog
from builds.models import Build
from builds.output import BuildOutput
from tests.support.bodies import client_body
from tests.support.helpers import wait_until


def finished(server, build_id: str) -> Build:
    def done():
        return httpx.get(f"{server.url}/v1alpha1/builds/{build_id}/status").json()["status"] == "COMPLETED"

    wait_until(done, timeout=180)
    return Build.objects.get(pk=build_id)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "client, image",
    [
        ("nextflow_micromamba_v2", "mambaorg/micromamba:2-amazon2023"),
        ("wavecli_pixi", "public.cr.seqera.io/wave/pixi:0.61.0-noble"),
        ("wavecli_cran", "rocker/r-ver:4.4.1"),
    ],
)


def test_a_template_whose_public_image_is_unreachable_fails_naming_it(wave_server, build_worker, client, image):
    body = wave_server.request_container(client_body(client))
    build = finished(wave_server, body["buildId"])
    assert build.status == Build.Status.FAILED
    assert build.reason.startswith(f"The image '{image}' could not be pulled (the build sandbox refused it: cannot resolve "), build.reason
    assert "a build can only start from images its workers reach" in build.reason
    assert f"initializing source docker://{image}: " in build.reason  # buildah's own words follow


@pytest.mark.django_db
def test_an_unpulled_image_with_a_registry_port_is_named_whole():
    output = BuildOutput(BuildLog("b1"), {})
    output("Error: creating build container: initializing source docker://localhost:5999/x/y:1: pinging container registry localhost:5999: EOF\n")
    assert output.reason.startswith("The image 'localhost:5999/x/y:1' could not be pulled: a build can only start")
