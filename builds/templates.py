"""Wave's build templates `conda/micromamba:v2`, `conda/pixi:v1` and `cran/installr:v1`: the
Dockerfiles Wave generates for them, rendered by the same rules, for the builder backend to run.

The template texts and the rendering rules follow seqeralabs/wave (`src/main/resources/templates/`,
`TemplateRenderer.java`, `TemplateUtils.java`, `CranHelper.groovy`) so that a request gives the
recipe Wave would give it; only the images (operator settings) may differ.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.conf import settings

from wave_site.errors import InvalidRequest
from wave_site.fields import shown

from .recipes import CONDA_MICROMAMBA_V2, CONDA_PIXI_V1, CRAN_INSTALLR_V1, conda_yaml
from .request_spec import ContainerRequestSpec, Packages

# wave-api's own defaults (CondaOpts, PixiOpts, CranOpts at 1.31, the version both clients use). The
# clients fill them in whatever the user asked, so they mean "unset": the operator's settings apply.
WAVE_DEFAULTS = {
    "mambaImage": {"mambaorg/micromamba:1.5.10-noble", "mambaorg/micromamba:2-amazon2023"},
    "baseImage": {"ubuntu:24.04"},
    "basePackages": {"conda-forge::procps-ng"},
    "pixiImage": {"public.cr.seqera.io/wave/pixi:0.61.0-noble"},
    "rImage": {"rocker/r-ver:4.4.1"},
}
CRAN_BASE_PACKAGES = "littler r-cran-docopt"
_MICROMAMBA_V1 = re.compile(r".*micromamba:1[.\-].*")

MICROMAMBA_V2_FILE = """\
FROM {{mamba_image}} AS build
USER root
COPY --chown=$MAMBA_USER:$MAMBA_USER conda.yml /tmp/conda.yml
# expose `which` at /usr/bin/which for R (bioconda) post-link scripts; the amazon2023 base image lacks it
RUN micromamba install -y -n base conda-forge::which \\
    && ln -sf "$MAMBA_ROOT_PREFIX/bin/which" /usr/bin/which \\
    && (micromamba install -y -n base -f /tmp/conda.yml > /tmp/mamba.log 2>&1 \\
    && cat /tmp/mamba.log \\
    || (cat /tmp/mamba.log >&2 && grep -q __cuda /tmp/mamba.log \\
        && CONDA_OVERRIDE_CUDA="99" micromamba install -y -n base -f /tmp/conda.yml)) \\
    {{base_packages}}
    && micromamba clean -a -y \\
    && micromamba env export --name base --explicit > environment.lock \\
    && echo ">> CONDA_LOCK_START" \\
    && cat environment.lock \\
    && echo "<< CONDA_LOCK_END"

FROM {{base_image}} AS prod
ARG MAMBA_ROOT_PREFIX="/opt/conda"
ENV MAMBA_ROOT_PREFIX=$MAMBA_ROOT_PREFIX
COPY --from=build "$MAMBA_ROOT_PREFIX" "$MAMBA_ROOT_PREFIX"
USER root
ENV PATH="$MAMBA_ROOT_PREFIX/bin:$PATH"
"""

MICROMAMBA_V2_PACKAGES = """\
FROM {{mamba_image}} AS build
USER root
# expose `which` at /usr/bin/which for R (bioconda) post-link scripts; the amazon2023 base image lacks it
RUN \\
    micromamba install -y -n base conda-forge::which \\
    && ln -sf "$MAMBA_ROOT_PREFIX/bin/which" /usr/bin/which \\
    && (micromamba install -y -n base {{channel_opts}} {{target}} > /tmp/mamba.log 2>&1 \\
    && cat /tmp/mamba.log \\
    || (cat /tmp/mamba.log >&2 && grep -q __cuda /tmp/mamba.log \\
        && CONDA_OVERRIDE_CUDA="99" micromamba install -y -n base {{channel_opts}} {{target}})) \\
    {{base_packages}}
    && micromamba clean -a -y \\
    && micromamba env export --name base --explicit > environment.lock \\
    && echo ">> CONDA_LOCK_START" \\
    && cat environment.lock \\
    && echo "<< CONDA_LOCK_END"

FROM {{base_image}} AS prod
ARG MAMBA_ROOT_PREFIX="/opt/conda"
ENV MAMBA_ROOT_PREFIX=$MAMBA_ROOT_PREFIX
COPY --from=build "$MAMBA_ROOT_PREFIX" "$MAMBA_ROOT_PREFIX"
USER root
ENV PATH="$MAMBA_ROOT_PREFIX/bin:$PATH"
"""

PIXI_V1_FILE = """\
FROM {{pixi_image}} AS build

COPY conda.yml /opt/wave/conda.yml
WORKDIR /opt/wave

RUN pixi init --import /opt/wave/conda.yml \\
    && pixi add conda-forge::which \\
    {{base_packages}}
    && pixi shell-hook > /shell-hook.sh \\
    && echo 'exec "$@"' >> /shell-hook.sh \\
    && echo ">> CONDA_LOCK_START" \\
    && cat /opt/wave/pixi.lock \\
    && echo "<< CONDA_LOCK_END"

FROM {{base_image}} AS final

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
"""

CRAN_V1_PACKAGES = """\
FROM {{base_image}}
RUN \\
    {{repo_opts}}{{base_packages}}
    && install2.r {{target}} \\
    && rm -rf /tmp/downloaded_packages/ /tmp/*.rds \\
    && rm -rf /var/lib/apt/lists/*
USER root
ENV R_LIBS_USER="/usr/local/lib/R/site-library"
"""

_ALONE = re.compile(r"(\s*)\{\{([\w-]+)\}\}(\s*)")  # a line that is one placeholder
_VAR = re.compile(r"(?<!\$)\{\{([\w-]+)\}\}")


def render(template: str, binding: dict[str, str | None]) -> str:
    """Wave's TemplateRenderer: `##` lines are dropped, a line that is only a placeholder whose value
    is None is dropped, a multi-line value takes the placeholder's indent."""
    out = []
    for line in template.splitlines(keepends=True):
        if line.startswith("##"):
            continue
        if alone := _ALONE.fullmatch(line):
            value = binding[alone[2]]
            if value is not None:
                out.append("".join(alone[1] + part for part in value.splitlines(keepends=True)) + alone[3])
            continue
        out.append(_VAR.sub(lambda var: binding[var[1]] or "", line))
    return "".join(out)


def _with_commands(recipe: str, commands: list[str] | None) -> str:
    return recipe + "".join(f"{command}\n" for command in commands or [])


def unset_wave_defaults(opts: Mapping | None) -> dict:
    """The options a client set itself: nulls and wave-api's defaults dropped."""
    return {k: v for k, v in (opts or {}).items() if v is not None and v not in WAVE_DEFAULTS.get(k, ())}


def _install_line(command: str, packages: str) -> str | None:
    return f"&& {command} {packages} \\" if packages else None


def _lock_url(entries: list[str]) -> str | None:
    urls = [e for e in entries if e.startswith(("http://", "https://"))]
    if urls and len(entries) > 1:
        raise InvalidRequest("No more than one Conda lock remote file can be specified at the same time")
    return urls[0] if urls else None


def micromamba_v2(packages: Packages, conda_file: str) -> tuple[str, str]:
    """The `conda/micromamba:v2` recipe and its conda file (none for a lock URL, installed with `-f`)."""
    opts = unset_wave_defaults(packages.conda_opts)
    mamba_image = opts.get("mambaImage") or settings.WAVE_CONDA_MAMBA_IMAGE
    if _MICROMAMBA_V1.fullmatch(mamba_image):  # Wave too: the v2 template needs micromamba 2
        mamba_image = settings.WAVE_CONDA_MAMBA_IMAGE_V2
    binding = {
        "mamba_image": mamba_image,
        "base_image": opts.get("baseImage") or settings.WAVE_CONDA_BASE_IMAGE,
        "base_packages": _install_line("micromamba install -y -n base", opts.get("basePackages", settings.WAVE_CONDA_BASE_PACKAGES)),
    }
    lock = _lock_url(packages.entries)
    if lock:
        channels = packages.channels or ()
        binding |= {"channel_opts": " ".join(f"-c {c}" for c in channels), "target": f"-f {lock}"}
        return _with_commands(render(MICROMAMBA_V2_PACKAGES, binding), opts.get("commands")), ""
    return _with_commands(render(MICROMAMBA_V2_FILE, binding), opts.get("commands")), conda_file


def pixi_v1(packages: Packages, conda_file: str) -> tuple[str, str]:
    if _lock_url(packages.entries):
        raise InvalidRequest("Conda lock file is not supported by 'conda/pixi:v1' template")
    opts = unset_wave_defaults(packages.pixi_opts)
    binding = {
        "pixi_image": opts.get("pixiImage") or settings.WAVE_PIXI_IMAGE,
        "base_image": opts.get("baseImage") or settings.WAVE_CONDA_BASE_IMAGE,
        "base_packages": _install_line("pixi add", opts.get("basePackages", settings.WAVE_CONDA_BASE_PACKAGES)),
    }
    return _with_commands(render(PIXI_V1_FILE, binding), opts.get("commands")), conda_file


def _cran_repositories(channels: list[str]) -> str:
    """Wave's `R -e "options(...)"` line for the repositories (`cran`, `bioconductor` or a URL)."""
    options = []
    for repo in channels or ["cran"]:
        if repo.lower() == "bioconductor":
            options.append("options(BioC_mirror = 'https://bioconductor.org')")
        elif repo.lower() == "cran":
            options.append("options(repos = c(CRAN = 'https://cloud.r-project.org/'))")
        else:
            options.append(f"options(repos = c(CRAN = '{repo}'))")
    return f'R -e "{"; ".join(options)}" '


def _cran_target(entries: list[str]) -> str:
    joined = " ".join(entries)
    if joined.startswith(("http://", "https://")):
        return joined
    names = [e.strip().strip("'\"") for e in joined.split(" ") if e.strip()]
    return " ".join(f"BiocManager::install('{n[6:]}')" if n.startswith("bioc::") else f"'{n}'" for n in names)


def cran_v1(packages: Packages) -> str:
    """The `cran/installr:v1` recipe: `install2.r` of the entries on an R image."""
    opts = unset_wave_defaults(packages.cran_opts)
    base_packages = opts.get("basePackages", CRAN_BASE_PACKAGES)
    binding = {
        "base_image": opts.get("rImage") or settings.WAVE_CRAN_IMAGE,
        "repo_opts": _cran_repositories(packages.channels or ()),
        "target": _cran_target(packages.entries),
        "base_packages": "\\" + (f"\n    && apt-get update && apt-get install -y {base_packages} \\" if base_packages else ""),
    }
    return _with_commands(render(CRAN_V1_PACKAGES, binding), opts.get("commands"))


def template_recipe(spec: ContainerRequestSpec) -> tuple[str, str] | None:
    """The recipe and conda file of a request that names one of Wave's templates (or CRAN packages,
    whose only template is `cran/installr:v1`); None when the service's own builders make it."""
    packages = spec.packages
    template, kind = spec.build_template, packages.type if packages else None
    packages = packages or Packages(type="CONDA")  # a legacy `condaFile` request has none: no options
    if kind == "CRAN":
        if template not in (None, CRAN_INSTALLR_V1):
            raise InvalidRequest(f"Package type 'CRAN' not supported by '{shown(template)}' build template")
        return cran_v1(packages), ""
    if template == CRAN_INSTALLR_V1:
        raise InvalidRequest(f"Package type '{kind}' not supported by 'cran/installr:v1' build template")
    if template not in (CONDA_MICROMAMBA_V2, CONDA_PIXI_V1) or spec.container_file:
        return None
    conda_file = spec.conda_file or packages.environment or conda_yaml(list(packages.entries), list(packages.channels or settings.WAVE_CONDA_CHANNELS))
    build = micromamba_v2 if template == CONDA_MICROMAMBA_V2 else pixi_v1
    return build(packages, conda_file)
