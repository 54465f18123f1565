"""`format: sif` for frozen images, Dockerfiles and Singularity definition files: built, made a SIF,
pushed to the local registry as an ORAS artifact, pulled back with oras-py and read with `siftool`
and `unsquashfs` (no Apptainer binary can be installed here to run them; see README)."""

from __future__ import annotations

import json
import subprocess
import uuid

import httpx
import pytest
from django.conf import settings

from builds.models import Build
from tests.support.bodies import client_body
from tests.support.builds import pull_sif
from tests.support.context_tars import wave_cli_context
from tests.support.helpers import b64, completed, run
from tests.support.images import data_layer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def repository() -> str:
    # A fresh repository per test: each one builds for real, whatever earlier runs left there.
    return f"{settings.WAVE_DEFAULT_REGISTRY}/sif/{uuid.uuid4().hex[:10]}"


class Sif:
    """A pulled SIF: its `siftool list`, and its root unpacked with unsquashfs."""

    def __init__(self, path, work):
        self.path, self.listing = path, run("siftool", "list", str(path)).stdout
        partition = next(line for line in self.listing.splitlines() if "FS" in line)
        squashfs = work / "rootfs.squashfs"
        with squashfs.open("wb") as out:
            subprocess.run(["siftool", "dump", partition.split()[0].strip("|"), str(path)], stdout=out, check=True)
        listed = run("unsquashfs", "-l", str(squashfs)).stdout.splitlines()
        self.files = {line.removeprefix("squashfs-root/") for line in listed if line.startswith("squashfs-root/")}
        self.root = work / "root"
        run("unsquashfs", "-no-progress", "-d", str(self.root), str(squashfs))

    def text(self, path: str) -> str:
        return (self.root / path.lstrip("/")).read_text()

    def run(self, script: str) -> str:
        """`script` in a chroot of the root, after the environment scripts, as Apptainer's action scripts source them."""
        setup = "for f in /.singularity.d/env/*.sh; do . $f; done; "
        return run("chroot", str(self.root), "/bin/sh", "-c", setup + script).stdout


def built_sif(server, body: dict, tmp_path) -> tuple[dict, Sif]:
    answer = server.request_container(body)
    assert answer["targetImage"] == f"oras://{body['buildRepository']}:{answer['buildId'][:16]}"
    assert answer["freeze"] is True and "containerToken" not in answer
    status = completed(server, answer["buildId"])
    assert status["succeeded"] is True, Build.objects.get(pk=answer["buildId"]).log
    return answer, Sif(pull_sif(answer["targetImage"], tmp_path), tmp_path)


def test_a_nextflow_singularity_freeze_of_an_image_becomes_a_sif_with_its_config(wave_server, build_worker, busybox, tmp_path):
    layer = {**data_layer(), "skipHashing": None}  # as Nextflow sends its module bundles
    config = {"entrypoint": ["/bin/echo", "entry"], "cmd": ["default", "args"], "env": ["GREETING=hello sif"],
              "workingDir": None, "layers": [layer]}
    body = client_body("nextflow_freeze_singularity", containerImage=busybox, buildRepository=repository(), containerConfig=config)
    _, sif = built_sif(wave_server, body, tmp_path)
    assert "amd64" in sif.listing
    assert {"bin/busybox", ".singularity.d/runscript", ".singularity.d/env/10-docker2singularity.sh"} <= sif.files
    assert sif.text("/opt/added/hello.txt") == "hello from the added layer\n"
    assert "export GREETING='hello sif'" in sif.text("/.singularity.d/env/10-docker2singularity.sh")
    # `singularity run` with and without arguments: ENTRYPOINT, then the arguments or else CMD.
    assert sif.run("/.singularity.d/runscript").strip() == "entry default args"
    assert sif.run("/.singularity.d/runscript one 'two words'").strip() == "entry one two words"
    assert sif.run('echo "$GREETING"').strip() == "hello sif"


def test_a_dockerfile_becomes_a_sif(wave_server, build_worker, busybox, tmp_path):
    marker = uuid.uuid4().hex
    dockerfile = (f"FROM {busybox}\nRUN mkdir -p /opt/app && echo {marker} > /opt/app/marker\n"
                  "ENV APP_HOME=/opt/app\nLABEL org.example.kind=test\nCMD [\"cat\", \"/opt/app/marker\"]\n")
    body = {"containerFile": b64(dockerfile), "format": "sif", "freeze": True, "buildRepository": repository()}
    _, sif = built_sif(wave_server, body, tmp_path)
    assert "opt/app/marker" in sif.files
    assert sif.run("/.singularity.d/runscript").strip() == marker
    assert sif.run('echo "$APP_HOME"').strip() == "/opt/app"
    assert json.loads(sif.text("/.singularity.d/labels.json"))["org.example.kind"] == "test"


DEFINITION = """\
Bootstrap: docker
From: {image}

%post
    echo built-by-post > /built.txt
    echo {marker} > /marker
    echo 'export FROM_POST="set in post"' >> $SINGULARITY_ENVIRONMENT

%environment
    export GREETING="hello from %environment"

%runscript
    echo "$GREETING:" "$@"

%labels
    Author someone@example.org

%help
    Prints a greeting.
"""


def test_a_wave_cli_definition_file_becomes_a_sif(wave_server, build_worker, busybox, tmp_path):
    marker = uuid.uuid4().hex  # a new %post each run: the builder's layer cache would skip a known one
    definition = DEFINITION.format(image=busybox, marker=marker)
    body = client_body("wavecli_singularity_deffile", containerFile=b64(definition), buildRepository=repository())
    answer, sif = built_sif(wave_server, body, tmp_path)
    assert sif.text("/built.txt") == "built-by-post\n" and sif.text("/marker") == marker + "\n"
    assert sif.text("/.singularity.d/Singularity") == definition
    assert "Def.FILE" in sif.listing  # the definition file is an object of the SIF too, as Apptainer adds it
    assert sif.run("/.singularity.d/runscript a b").strip() == "hello from %environment: a b"
    assert sif.run('echo "$FROM_POST"').strip() == "set in post"
    assert sif.text("/.singularity.d/runscript.help").strip() == "Prints a greeting."
    assert json.loads(sif.text("/.singularity.d/labels.json"))["Author"] == "someone@example.org"
    assert "+ echo built-by-post" in Build.objects.get(pk=answer["buildId"]).log  # %post runs with -x, as Apptainer runs it


def test_a_failing_post_fails_the_build_with_its_reason(wave_server, build_worker, busybox):
    definition = f"Bootstrap: docker\nFrom: {busybox}\n%post\n    false\n    echo never\n"
    body = {"containerFile": b64(definition), "format": "sif", "freeze": True, "buildRepository": repository()}
    answer = wave_server.request_container(body)
    assert completed(wave_server, answer["buildId"])["succeeded"] is False
    build = Build.objects.get(pk=answer["buildId"])
    assert "+ false" in build.log and "+ echo never" not in build.log
    assert "exit status 1" in build.reason, build.reason
    status = httpx.get(f"{wave_server.url}/v1alpha2/container/{answer['requestId']}/status").json() if "requestId" in answer else None
    assert status is None or status["succeeded"] is False


def test_an_arm64_image_becomes_an_arm64_sif(wave_server, build_worker, multiarch, tmp_path):
    body = {"containerImage": multiarch, "containerPlatform": "linux/arm64", "format": "sif", "freeze": True,
            "buildRepository": repository()}
    _, sif = built_sif(wave_server, body, tmp_path)
    assert "arm64" in sif.listing and "amd64" not in sif.listing
    assert sif.text("/etc/arch") == "arm64\n"
    assert "exec \"$@\"" in sif.text("/.singularity.d/runscript") and "/etc/arch" in sif.text("/.singularity.d/runscript")


def test_an_image_whose_singularity_folder_is_a_link_out_fails_without_writing_there(wave_server, build_worker, busybox, tmp_path):
    outside = tmp_path / f"outside-{uuid.uuid4().hex}"  # an absolute link target: the worker's host, were it followed
    outside.mkdir()
    dockerfile = f"FROM {busybox}\nRUN mkdir /.singularity.d && ln -s {outside} /.singularity.d/env\n"
    body = {"containerFile": b64(dockerfile), "format": "sif", "freeze": True, "buildRepository": repository()}
    answer = wave_server.request_container(body)
    assert completed(wave_server, answer["buildId"])["succeeded"] is False
    assert Build.objects.get(pk=answer["buildId"]).reason == "The image's /.singularity.d/env is a symbolic link; it must be a folder"
    assert list(outside.iterdir()) == []


def test_a_definition_files_files_come_from_wave_clis_build_context(wave_server, build_worker, busybox, tmp_path):
    marker = uuid.uuid4().hex
    definition = (f"Bootstrap: docker\nFrom: {busybox}\n%files\n    data/hello.txt /opt/hello.txt\n"
                  f"    'with space.txt'\n    scripts /opt/scripts\n%post\n    echo {marker} > /marker\n")
    context = wave_cli_context({"data/hello.txt": b"hello from %files\n", "with space.txt": b"spaced\n",
                                "scripts/run.sh": b"#!/bin/sh\necho run\n"})
    body = {"containerFile": b64(definition), "buildContext": context, "format": "sif", "freeze": True,
            "buildRepository": repository()}
    _, sif = built_sif(wave_server, body, tmp_path)
    assert sif.text("/opt/hello.txt") == "hello from %files\n"
    assert sif.text("/with space.txt") == "spaced\n"
    assert sif.text("/opt/scripts/run.sh") == "#!/bin/sh\necho run\n"  # a folder's contents, as COPY copies
