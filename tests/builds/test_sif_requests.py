"""`format: sif` requests: what is accepted, the build id, and every refusal with its message."""

from __future__ import annotations


import pytest
from django.conf import settings

from builds.models import Build
from tests.support.bodies import client_body
from tests.support.helpers import REGISTRY, b64, post

pytestmark = pytest.mark.django_db

REPOSITORY = f"{REGISTRY}/sif/images"


def definition(*sections: str) -> str:
    return f"Bootstrap: docker\nFrom: {REGISTRY}/library/busybox:latest\n" + "".join(sections)


def sif(**body) -> dict:
    return {"format": "sif", "freeze": True, "buildRepository": REPOSITORY, **body}


def test_a_nextflow_singularity_freeze_names_an_oras_target(api):
    body = client_body("nextflow_freeze_singularity", containerImage=f"{REGISTRY}/library/busybox:latest",
                       buildRepository=REPOSITORY, dryRun=True)
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    build_hash = response.json()["buildId"][:16]
    assert response.json()["targetImage"] == f"oras://{REPOSITORY}:{build_hash}"


def test_the_format_is_part_of_the_build_id(api):
    """The same frozen image as an image and as a SIF: one recipe, two images (Wave's differ by recipe text)."""
    image = {"containerImage": f"{REGISTRY}/library/busybox:latest", "freeze": True, "buildRepository": REPOSITORY, "dryRun": True}
    docker = post(api, "/v1alpha2/container", image).json()["buildId"]
    singularity = post(api, "/v1alpha2/container", {**image, "format": "sif"}).json()["buildId"]
    assert docker != singularity


def test_a_wave_cli_definition_file_is_translated_and_recorded(api, django_capture_on_commit_callbacks):
    text = definition("%post\n    echo hi > /hi\n%runscript\n    echo run\n")
    body = client_body("wavecli_singularity_deffile", containerFile=b64(text), buildRepository=REPOSITORY)
    with django_capture_on_commit_callbacks(execute=False):
        response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    build = Build.objects.get(pk=response.json()["buildId"])
    assert build.format == "sif" and build.container_file.startswith(f"FROM {REGISTRY}/library/busybox:latest\n")
    assert build.context["files"][".wave-singularity.d/Singularity"]["text"] == text
    assert build.context["files"][".wave-post.script"]["text"].endswith("    echo hi > /hi\n")


@pytest.mark.parametrize(
    "body, message",
    [
        ({"containerFile": b64(definition()), "format": "sif"},
         "Singularity build is only allowed enabling freeze mode - see 'wave.freeze' setting"),
        ({"containerFile": b64(definition()), "freeze": True, "buildRepository": REPOSITORY},
         "Attribute 'containerFile' is a Singularity definition file: set 'format' to 'sif' to build it"),
        (sif(containerFile=b64(definition("%setup\n    touch $SINGULARITY_ROOTFS/x\n"))),
         "Section '%setup' is refused: it runs on the build host, outside the container"),
        (sif(containerFile=b64("Bootstrap: localimage\nFrom: /tmp/base.sif\n")),
         "Bootstrap agent 'localimage' is not supported; only 'docker' is"),
        (sif(containerFile=b64(definition("%startscript\n    true\n"))), "Section '%startscript' is not supported"),
        (sif(containerFile=b64(definition("%files\n    ../../etc/passwd /p\n"))),
         "%files source '../../etc/passwd' leaves the build context ('..')"),
        (sif(containerFile=b64(definition("%files\n    data.txt /opt/data.txt\n"))),
         "%files source 'data.txt' must come from the build context, and the request has none"),
        (sif(containerFile=b64(definition("%post\n" + "    echo 0123456789\n" * 1000))),
         f"is too large: 20068 bytes once decoded, the limit is {settings.WAVE_MAX_CONTAINER_FILE}"),
        (sif(containerFile=b64(definition("%runscript\n    echo run\n")), containerConfig={"entrypoint": ["/bin/true"]}),
         "sets an entrypoint or cmd, and the definition file has a %runscript"),
        (sif(packages={"type": "CONDA", "entries": ["samtools"], "condaOpts": {"commands": ["RUN true"]}}),
         "Attribute 'format' 'sif' cannot be combined with 'packages.condaOpts.commands'"),
    ],
)


def test_it_refuses_what_it_cannot_make_a_sif_of(api, body, message):
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400, response.json()
    assert message in response.json()["message"]
