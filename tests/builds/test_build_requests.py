"""Requests that build: build ids, names, dedup, cache, freeze; the build record endpoints."""

import re

import django_rq
import pytest

from builds.base_images import busybox_image
from builds.models import Build
from containers.models import ContainerRequest
from tests.support.helpers import REGISTRY, SERVER, b64, dockerfile, post, push

pytestmark = pytest.mark.django_db


def test_a_dockerfile_gives_a_pending_build_and_a_proxied_target(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api, "/v1alpha2/container", {"containerFile": dockerfile("one")})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{16}_1", body["buildId"])
    build_hash = body["buildId"][:16]
    token = body["containerToken"]
    assert body["targetImage"] == f"{SERVER}/wt/{token}/wave/builds:{build_hash}"
    assert body["cached"] is False and body["freeze"] is False and body["expiration"]
    build = Build.objects.get(pk=body["buildId"])
    assert build.status == Build.Status.PENDING
    assert build.target_image == f"{REGISTRY}/wave/builds:{build_hash}"
    assert build.container_file == f"FROM {REGISTRY}/library/busybox\nRUN echo one > /marker\n"
    assert ContainerRequest.objects.get(token=token).build == build
    job = django_rq.get_queue("default-linux-amd64").fetch_job(f"build-{build.id}")  # the platform's queue
    assert job is not None and job.func_name == "builds.jobs.run_build" and list(job.args) == [build.id]


def test_the_same_request_shares_one_build(api):
    first = post(api, "/v1alpha2/container", {"containerFile": dockerfile("two")}).json()
    second = post(api, "/v1alpha2/container", {"containerFile": dockerfile("two")}).json()
    assert first["buildId"] == second["buildId"]
    assert first["containerToken"] != second["containerToken"]
    assert Build.objects.filter(content_hash=first["buildId"][:16]).count() == 1


def test_the_build_hash_depends_on_the_platform_and_repository(api, settings):
    settings.WAVE_FOREIGN_RUN = "true"
    ids = {
        post(api, "/v1alpha2/container", {"containerFile": dockerfile("three"), **extra}).json()["buildId"]
        for extra in ({}, {"containerPlatform": "linux/arm64"}, {"buildRepository": f"{REGISTRY}/other/repo"})
    }
    assert len(ids) == 3


def test_a_failed_build_is_retried_with_the_next_number(api):
    first = post(api, "/v1alpha2/container", {"containerFile": dockerfile("four")}).json()
    Build.objects.filter(pk=first["buildId"]).update(status=Build.Status.FAILED)
    second = post(api, "/v1alpha2/container", {"containerFile": dockerfile("four")}).json()
    assert second["buildId"] == first["buildId"][:16] + "_2"


def test_a_succeeded_build_is_cached(api):
    first = post(api, "/v1alpha2/container", {"containerFile": dockerfile("five")}).json()
    Build.objects.filter(pk=first["buildId"]).update(status=Build.Status.SUCCEEDED)
    second = post(api, "/v1alpha2/container", {"containerFile": dockerfile("five")}).json()
    assert second["buildId"] == first["buildId"] and second["cached"] is True and second["succeeded"] is True


def test_an_image_already_in_the_registry_is_cached_without_a_build(api, registry):
    body = {"containerFile": dockerfile("six"), "buildRepository": f"{registry}/wave/prebuilt"}
    dry = post(api, "/v1alpha2/container", {**body, "dryRun": True}).json()
    assert dry["buildId"].endswith("_0")
    build_hash = dry["buildId"][:16]
    push(registry, "wave/prebuilt", build_hash, busybox_image())
    response = post(api, "/v1alpha2/container", body).json()
    assert response["cached"] is True and response["buildId"] == f"{build_hash}_1"
    build = Build.objects.get(pk=response["buildId"])
    assert build.status == Build.Status.SUCCEEDED and "already in the registry" in build.log


def test_conda_packages_are_named_after_the_packages(api):
    body = {"packages": {"type": "CONDA", "entries": ["salmon", "bwa"], "channels": ["conda-forge", "bioconda"]}}
    response = post(api, "/v1alpha2/container", body).json()
    build_hash = response["buildId"][:16]
    assert response["targetImage"] == f"{SERVER}/wt/{response['containerToken']}/wave/builds:salmon_bwa--{build_hash}"
    build = Build.objects.get(pk=response["buildId"])
    assert build.conda_file == "channels:\n- conda-forge\n- bioconda\ndependencies:\n- salmon\n- bwa\n"
    assert build.context == {
        "builder": "conda", "base_image": f"{REGISTRY}/library/debian:bookworm-slim",
        "channels": ["conda-forge", "bioconda"], "specs": ["salmon", "bwa", "conda-forge::procps-ng"], "commands": [],
    }
    assert "specs:\n- salmon\n- bwa\n- conda-forge::procps-ng\n" in build.container_file


def test_the_micromamba_template_gives_the_reference_dockerfile(api):
    body = {"packages": {"type": "CONDA", "entries": ["salmon", "bwa"]}, "buildTemplate": "conda/micromamba:v1"}
    build = Build.objects.get(pk=post(api, "/v1alpha2/container", body).json()["buildId"])
    assert build.container_file.startswith("FROM mambaorg/micromamba")
    assert "micromamba install -y -n base conda-forge::procps-ng" in build.container_file
    assert build.context == {}


def test_pip_entries_need_the_micromamba_template(api):
    response = post(api, "/v1alpha2/container", {"packages": {"type": "CONDA", "entries": ["bwa", "pip:multiqc"]}})
    assert response.status_code == 400
    assert "pip packages cannot be installed by the conda builder" in response.json()["message"]


def test_an_unknown_build_template_is_400(api):
    response = post(api, "/v1alpha2/container", {"packages": {"type": "CONDA", "entries": ["bwa"]}, "buildTemplate": "conda/pixi:v9"})
    assert response.status_code == 400
    assert "Unsupported build template 'conda/pixi:v9'" in response.json()["message"]


def test_conda_options_shape_the_recipe(api):
    body = {
        "packages": {
            "type": "CONDA",
            "entries": ["samtools=1.0"],
            "condaOpts": {"mambaImage": f"{REGISTRY}/mamba:1", "basePackages": "", "commands": ["RUN echo hi"]},
        },
        "nameStrategy": "imageSuffix",
        "buildTemplate": "conda/micromamba:v1",
    }
    response = post(api, "/v1alpha2/container", body).json()
    build = Build.objects.get(pk=response["buildId"])
    assert build.target_image == f"{REGISTRY}/wave/builds/samtools:1.0--{build.content_hash}"
    assert build.container_file.startswith(f"FROM {REGISTRY}/mamba:1\n")
    assert "procps-ng" not in build.container_file and build.container_file.endswith("RUN echo hi\n")
    assert "channels:\n- conda-forge\n- bioconda\n" in build.conda_file


def test_a_conda_environment_file_is_used_as_given(api):
    env = "channels:\n- bioconda\ndependencies:\n- bwa=0.7.17\n"
    response = post(api, "/v1alpha2/container", {"packages": {"type": "CONDA", "environment": b64(env)}}).json()
    build = Build.objects.get(pk=response["buildId"])
    assert build.conda_file == env and build.target_image.endswith(f":bwa-0.7.17--{build.content_hash}")


def test_the_legacy_endpoint_takes_a_conda_file(api):
    env = "dependencies:\n- multiqc\n"
    response = post(api, "/container-token", {"condaFile": b64(env)})
    assert response.status_code == 200
    assert Build.objects.get(pk=response.json()["buildId"]).conda_file == env


@pytest.mark.parametrize("template", ["conda/micromamba:v2", "conda/pixi:v1"])
def test_the_legacy_endpoint_takes_a_conda_file_with_a_wave_template(api, template):
    env = "dependencies:\n- multiqc\n"
    response = post(api, "/container-token", {"condaFile": b64(env), "buildTemplate": template})
    assert response.status_code == 200, response.content  # it has no `packages`: the template's options are unset
    build = Build.objects.get(pk=response.json()["buildId"])
    tool = template.split("/")[1].split(":")[0]  # micromamba or pixi: the recipe is the template's
    assert build.conda_file == env and tool in build.container_file


def test_freeze_returns_the_pushed_image_without_a_token(api, registry):
    body = {"containerFile": dockerfile("seven"), "freeze": True, "buildRepository": f"{registry}/frozen/app"}
    response = post(api, "/v1alpha2/container", body).json()
    build_hash = response["buildId"][:16]
    assert response["targetImage"] == f"{registry}/frozen/app:{build_hash}"
    assert response["freeze"] is True
    assert "containerToken" not in response and "expiration" not in response


def test_freeze_of_an_image_bakes_the_config_into_the_recipe(api, busybox, registry):
    body = {
        "containerImage": busybox,
        "containerConfig": {"env": ["A=1"], "entrypoint": ["/bin/sh", "-c"], "workingDir": "/work"},
        "freeze": True,
        "buildRepository": f"{registry}/frozen/app",
    }
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    build = Build.objects.get(pk=response.json()["buildId"])
    assert build.container_file == f'FROM {busybox}\nWORKDIR /work\nENV A="1"\nENTRYPOINT ["/bin/sh", "-c"]\n'


def test_singularity_targets_are_oras_urls(api, registry):
    body = {
        "format": "sif",
        "containerPlatform": "arm64",
        "packages": {"type": "CONDA", "entries": ["salmon"], "channels": ["conda-forge", "bioconda"]},
        "freeze": True,
        "buildRepository": f"{registry}/sif/images",
    }
    response = post(api, "/v1alpha2/container", body).json()
    build_hash = response["buildId"][:16]
    assert response["targetImage"] == f"oras://{registry}/sif/images:salmon--{build_hash}"
    assert Build.objects.get(pk=response["buildId"]).platform == "linux/arm64"


def test_build_endpoints_read_the_record(api):
    build_id = post(api, "/v1alpha2/container", {"containerFile": dockerfile("eight")}).json()["buildId"]
    status = api.get(f"/v1alpha1/builds/{build_id}/status").json()
    assert status == {"id": build_id, "status": "PENDING", "startTime": None, "duration": None}
    record = api.get(f"/v1alpha1/builds/{build_id}").json()
    assert record["buildId"] == build_id and record["status"] == "PENDING"
    logs = api.get(f"/v1alpha1/builds/{build_id}/logs")
    assert logs.status_code == 200 and logs["Content-Type"].startswith("text/plain")
    assert api.get(f"/v1alpha1/builds/{build_id}/condalock").status_code == 404


def test_a_completed_build_reports_duration_and_success(api):
    from datetime import timedelta

    from django.utils import timezone

    build_id = post(api, "/v1alpha2/container", {"containerFile": dockerfile("nine")}).json()["buildId"]
    start = timezone.now()
    Build.objects.filter(pk=build_id).update(
        status=Build.Status.SUCCEEDED, started_at=start, finished_at=start + timedelta(seconds=12.5)
    )
    status = api.get(f"/v1alpha1/builds/{build_id}/status").json()
    assert status["status"] == "COMPLETED" and status["succeeded"] is True and status["duration"] == 12.5


@pytest.mark.parametrize("suffix", ["", "/status", "/logs", "/condalock"])
def test_an_unknown_build_is_404(api, suffix):
    response = api.get(f"/v1alpha1/builds/0123456789abcdef_9{suffix}")
    assert response.status_code == 404
    assert response.json()["message"] == "Unknown build id '0123456789abcdef_9'"


def test_null_attributes_are_treated_as_absent(api):
    body = {"containerFile": dockerfile("ten"), "containerConfig": None, "containerPlatform": None, "packages": None, "freeze": None}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    assert Build.objects.get(pk=response.json()["buildId"]).platform == "linux/amd64"


def test_foreign_platform_run_steps_are_refused_without_emulation(api, settings):
    settings.WAVE_FOREIGN_RUN = "false"
    response = post(api, "/v1alpha2/container", {"containerFile": dockerfile("arm"), "containerPlatform": "linux/arm64"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("linux/arm64 builds with RUN steps are unavailable on this deployment")


def test_foreign_platform_builds_without_run_steps_are_accepted(api, settings):
    settings.WAVE_FOREIGN_RUN = "false"
    no_run = b64(f"FROM {REGISTRY}/library/busybox\nENV A=1\n")
    assert post(api, "/v1alpha2/container", {"containerFile": no_run, "containerPlatform": "linux/arm64"}).status_code == 200
    conda = {"packages": {"type": "CONDA", "entries": ["bwa"]}, "containerPlatform": "linux/arm64"}
    assert post(api, "/v1alpha2/container", conda).status_code == 200


def test_emulation_is_detected_from_binfmt_misc(settings):
    from builds.services import emulation_available

    settings.WAVE_FOREIGN_RUN = "auto"
    import os
    from pathlib import Path

    native = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}[os.uname().machine]
    foreign, qemu = ("linux/arm64", "qemu-aarch64") if native == "linux/amd64" else ("linux/amd64", "qemu-x86_64")
    assert emulation_available(native) is True
    assert emulation_available(foreign) is Path(f"/proc/sys/fs/binfmt_misc/{qemu}").exists()


def test_a_conda_channel_on_a_forbidden_address_is_refused(api):
    body = {"packages": {"type": "CONDA", "entries": ["bwa"], "channels": ["http://localhost:9/private"]}}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Conda channel 'http://localhost:9/private' cannot be used: Host 'localhost' resolves to 127.0.0.1")


def test_a_lock_url_that_is_not_a_lock_is_refused(api, conda_channel):
    url = f"{conda_channel}/noarch/repodata.json"
    response = post(api, "/v1alpha2/container", {"packages": {"type": "CONDA", "entries": [url]}})
    assert response.status_code == 400
    assert response.json()["message"] == f"'{url}' is not an @EXPLICIT conda lock"


def test_a_build_from_a_forbidden_registry_is_refused(api):
    body = {"containerFile": b64("FROM localhost:5999/internal/image\nRUN true\n")}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Registry 'localhost:5999' cannot be used in a build: Host 'localhost' resolves to 127.0.0.1")


def test_a_channel_named_in_a_spec_is_checked_too(api):
    body = {"packages": {"type": "CONDA", "entries": ["http://localhost:9/ch::bwa"], "condaOpts": {"basePackages": ""}}}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400 and "Conda channel 'http://localhost:9/ch' cannot be used" in response.json()["message"]


def test_a_too_long_build_repository_is_400(api):
    response = post(api, "/v1alpha2/container", {"containerFile": dockerfile("long"), "buildRepository": f"{REGISTRY}/" + "a" * 250})
    assert response.status_code == 400 and "must be at most 200 characters" in response.json()["message"]
