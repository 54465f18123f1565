"""Planning a build from a request, and submitting it once per content hash."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.identity import Identity
from registries.upstream import DownloadError, check_host, download
from oci.errors import OciError
from oci.platform import parse_platform
from oci.reference import parse_reference
from wave_site.errors import InvalidRequest

from .compression import compression_context
from .conda.plan import CondaPlanError, explicit_entries, plan_from_environment
from .conda.sources import remote_urls
from .models import Build
from .naming import content_hash, target_image
from .context import FROM_LINE
from .platforms import canonical
from .queue import enqueue_build, worker_seen
from .ended import announce_end
from .jobs import fail_build
from .sif_build import container_file_recipe
from .request_spec import ContainerRequestSpec, thawed
from .recipes import CONDA_MICROMAMBA, conda_dockerfile, conda_packages, conda_yaml, config_steps
from .templates import template_recipe, unset_wave_defaults


@dataclass(frozen=True)
class BuildPlan:
    content_hash: str
    container_file: str
    conda_file: str
    platform: str
    build_repository: str
    cache_repository: str
    target_image: str  # `<repo>:<tag>` where the image is pushed
    format: str
    freeze: bool
    context: dict = field(default_factory=dict)

    @property
    def client_image(self) -> str:
        """The name a frozen build is given to the client."""
        return f"oras://{self.target_image}" if self.format == "sif" else self.target_image


def _lock_from_url(url: str) -> str:
    """A lock named by URL (`packages.entries: ["https://.../env.lock"]`), fetched through the SSRF guard."""
    try:
        text = download(url, settings.WAVE_MAX_CONDA_FILE).decode("utf-8", "replace")
    except DownloadError as exc:
        raise InvalidRequest(f"The conda lock {exc}") from None
    try:
        if explicit_entries(text) is None:
            raise InvalidRequest(f"'{url}' is not an @EXPLICIT conda lock")
    except CondaPlanError as exc:
        raise InvalidRequest(f"The conda lock at '{url}' is not valid: {exc}") from None
    return text


def _check_sources(plan) -> None:
    """No local channel or package; channel and package URLs pass the SSRF policy."""
    try:
        sources = remote_urls(plan, settings.WAVE_CONDA_CHANNEL_ALIAS)
    except CondaPlanError as exc:
        raise InvalidRequest(str(exc)) from None
    for what, url in sources:
        try:
            check_host(url)
        except DownloadError as exc:
            raise InvalidRequest(f"{what} cannot be used: {exc}") from None


def _conda_recipe(spec: ContainerRequestSpec) -> tuple[str, str, dict]:
    """The recipe, the conda file and the build context of a conda request."""
    if (made := template_recipe(spec)) is not None:
        return *made, {}
    packages = spec.packages
    opts = unset_wave_defaults(packages.conda_opts if packages else None)  # the clients always send wave-api's defaults
    entries = list(packages.entries) if packages else []
    if len(entries) == 1 and entries[0].startswith(("http://", "https://")) and "::" not in entries[0]:
        conda_file = _lock_from_url(entries[0])
    else:
        conda_file = spec.conda_file or (packages and packages.environment) or conda_yaml(
            entries, list((packages and packages.channels) or settings.WAVE_CONDA_CHANNELS)
        )
    base_packages = settings.WAVE_CONDA_BASE_PACKAGES if opts.get("basePackages") is None else opts["basePackages"]
    if spec.container_file:  # the legacy form: a Dockerfile that uses conda.yml itself
        return spec.container_file, conda_file, {}
    if spec.build_template == CONDA_MICROMAMBA:
        mamba_image = opts.get("mambaImage") or settings.WAVE_CONDA_MAMBA_IMAGE
        return conda_dockerfile(mamba_image, base_packages, opts.get("commands") or []), conda_file, {}
    try:
        plan = plan_from_environment(
            conda_file, base_packages, settings.WAVE_CONDA_CHANNELS, opts.get("baseImage") or settings.WAVE_CONDA_BASE_IMAGE,
            spec.platform, list(opts.get("commands") or []),
        )
    except CondaPlanError as exc:
        raise InvalidRequest(str(exc)) from None
    _check_sources(plan)
    return plan.recipe(), conda_file, plan.context()


_RUN = re.compile(r"^\s*RUN\s", re.IGNORECASE | re.MULTILINE)


def emulation_available(platform: str) -> bool:
    """Can RUN steps execute for `platform`: natively on this deployment's own workers
    (WAVE_WORKER_PLATFORMS), on a worker for it seen recently (another machine), or here through a
    registered qemu-user?"""
    setting = settings.WAVE_FOREIGN_RUN
    if setting in ("true", "false"):
        return setting == "true"
    if canonical(platform) in settings.WAVE_WORKER_PLATFORMS or worker_seen(platform):
        return True
    qemu = {"amd64": "qemu-x86_64", "arm64": "qemu-aarch64"}[parse_platform(platform).architecture]
    return Path(f"/proc/sys/fs/binfmt_misc/{qemu}").exists()


def _check_emulation(recipe: str, context: dict, platform: str) -> None:
    runs = " ".join(context.get("commands") or []) if context.get("builder") == "conda" else recipe
    if _RUN.search(runs) and not emulation_available(platform):
        raise InvalidRequest(
            f"{platform} builds with RUN steps are unavailable on this deployment: its workers cannot run "
            f"{platform} programs (no qemu-user emulation is registered). Conda packages need no RUN step "
            "and build for every platform"
        )


def _check_build_registries(recipe: str, context: dict, cache_repository: str | None) -> None:
    """The registries the builder will contact (FROM images, the mamba and base images, the cache)
    must not resolve to forbidden addresses: an early, clear 400. The build sandbox is what enforces
    it (README, Security); this reads the recipe as text and misses what an ARG hides."""
    images = [*FROM_LINE.findall(recipe), *filter(None, [context.get("base_image")])]
    hosts = {cache_repository.split("/")[0]} if cache_repository else set()
    for image in images:
        try:
            hosts.add(parse_reference(image).registry)
        except OciError:
            continue  # a stage name or an ARG
    for host in sorted(hosts):
        try:
            check_host(f"https://{host}", resolvable=False)
        except DownloadError as exc:
            raise InvalidRequest(f"Registry '{host}' cannot be used in a build: {exc}") from None


def plan_build(spec: ContainerRequestSpec) -> BuildPlan:
    """Everything that determines the image, and the name it will have."""
    config = thawed(spec.container_config) or {}
    conda_file, context = "", {}
    if spec.packages or spec.conda_file:
        recipe, conda_file, context = _conda_recipe(spec)
    elif spec.container_file:
        recipe, context = container_file_recipe(spec)
    else:  # freeze of an existing image
        recipe = f"FROM {spec.container_image}\n"
    if spec.freeze and config:
        recipe = recipe.rstrip("\n") + "\n" + config_steps(config)
    repository = spec.build_repository or settings.WAVE_BUILD_REPOSITORY
    layers = [layer["gzipDigest"] for layer in config.get("layers") or []] if spec.freeze else []
    inputs = {
        "containerFile": recipe,
        "condaFile": conda_file,
        "platform": spec.platform,
        "repository": repository,
        "format": spec.format,
        "layers": layers,
        **({"files": context["files"]} if context.get("files") else {}),
    }
    build_context = spec.build_context
    if build_context:  # as Wave: the context's tarDigest is part of the id only when one is sent
        inputs["buildContext"] = build_context["tarDigest"]
    _check_emulation(recipe, context, spec.platform)
    _check_build_registries(recipe, context, spec.cache_repository)
    if spec.format == "sif" and context.get("commands"):
        raise InvalidRequest("Attribute 'format' 'sif' cannot be combined with 'packages.condaOpts.commands'; "
                       "put the commands in a Singularity definition file's %post instead")
    build_hash = content_hash(inputs)
    packages = conda_packages(conda_file) if conda_file else []
    return BuildPlan(
        content_hash=build_hash,
        container_file=recipe,
        conda_file=conda_file,
        platform=spec.platform,
        build_repository=repository,
        cache_repository=spec.cache_repository or "",
        target_image=target_image(repository, build_hash, packages, spec.name_strategy),
        format=spec.format,
        freeze=spec.freeze,
        context={
            **context,
            **({"layers": config.get("layers") or []} if layers else {}),
            **({"buildContext": {k: build_context[k] for k in ("gzipDigest", "tarDigest")}} if build_context else {}),
            **compression_context(spec.build_compression, context),
        },
    )


def _new_build(plan: BuildPlan, identity: Identity, number: int, **fields) -> Build:
    return Build.objects.create(
        id=f"{plan.content_hash}_{number}",
        content_hash=plan.content_hash,
        number=number,
        container_file=plan.container_file,
        conda_file=plan.conda_file,
        platform=plan.platform,
        build_repository=plan.build_repository,
        cache_repository=plan.cache_repository,
        target_image=plan.target_image,
        format=plan.format,
        freeze=plan.freeze,
        context=plan.context,
        user=identity.user,
        workspace=identity.workspace,
        org=identity.org or "",
        timeout=settings.WAVE_BUILD_TIMEOUT,
        **fields,
    )


def submit_build(plan: BuildPlan, identity: Identity, image_exists, count_build=lambda: None) -> tuple[Build, bool]:
    """The build for `plan` and whether its image is already there (`cached`).

    A pending, running or succeeded build of the same hash is shared; a failed one is retried as
    the next number. The row is claimed first: the unique (hash, number) constraint makes concurrent
    submissions agree on one build, and only the request whose insert won calls `count_build()` (the
    rate limit: charged once, and a refusal takes the claim back) and then `image_exists()`, outside
    any transaction: a registry call never holds a row lock or a connection's transaction open.
    """
    while True:
        latest = Build.objects.filter(content_hash=plan.content_hash).order_by("-number").first()
        if latest and latest.status != Build.Status.FAILED:
            return latest, latest.status == Build.Status.SUCCEEDED
        number = latest.number + 1 if latest else 1
        try:
            with transaction.atomic():
                build = _new_build(plan, identity, number)  # PENDING, and queued only below
                count_build()
            break
        except IntegrityError:
            continue  # another request made this number first: share its build
    try:
        exists = image_exists()
    except Exception as exc:
        fail_build(build.id, str(exc))  # requests that joined in between are told why
        raise
    if not exists:
        transaction.on_commit(lambda: enqueue_build(build.id))
        return build, False
    now = timezone.now()
    found = {
        "status": Build.Status.SUCCEEDED, "started_at": now, "finished_at": now, "exit_status": 0, "from_registry": True,
        "log": f"{plan.target_image} is already in the registry: nothing to build\n",
    }
    Build.objects.filter(pk=build.pk, status=Build.Status.PENDING).update(**found)
    announce_end(build.id, Build.Status.SUCCEEDED, "")
    for name, value in found.items():
        setattr(build, name, value)
    return build, True


def retry_build(failed: Build) -> Build | None:
    """A new attempt (`<hash>_<n+1>`) at a failed build with the same inputs; None if a newer one exists."""
    latest = Build.objects.filter(content_hash=failed.content_hash).order_by("-number").first()
    if latest.pk != failed.pk or failed.status != Build.Status.FAILED:
        return None
    copied = {f.name: getattr(failed, f.name) for f in Build._meta.fields if f.name in _RETRIED_FIELDS}
    try:
        with transaction.atomic():
            build = Build.objects.create(
                id=f"{failed.content_hash}_{failed.number + 1}", number=failed.number + 1,
                timeout=settings.WAVE_BUILD_TIMEOUT, **copied,
            )
            transaction.on_commit(lambda: enqueue_build(build.id))
    except IntegrityError:
        return None
    return build


_RETRIED_FIELDS = {
    "content_hash", "container_file", "conda_file", "platform", "build_repository", "cache_repository",
    "target_image", "format", "freeze", "context", "user", "workspace", "org",
}
