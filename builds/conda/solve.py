"""Solving and installing with py-rattler, for the image's platform rather than the worker's."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import rattler
import rattler.exceptions
from rattler.platform import Subdir

from oci.download import BadStatus, download
from oci.errors import OciError

from .plan import PREFIX, CondaPlan

# What a glibc-based base image (Debian bookworm) offers; the solver needs it to pick linux builds.
GLIBC = "2.36"
LINUX = "6.1"
DOWNLOAD_TIMEOUT = 120  # seconds without progress; the build's deadline bounds the whole download


class SolveError(Exception):
    pass


# The errors rattler raises for what it was given or could not fetch (each its own type, all plain
# `Exception` subclasses), and I/O; anything else is a bug of ours and stays one.
RATTLER_ERRORS = (
    *(v for v in vars(rattler.exceptions).values() if isinstance(v, type) and issubclass(v, Exception)),
    OSError,
)


# rattler's gateway error (fetching a channel's index) ends in a chain of "Caused by:" lines; the
# failing URL is in "for url (...)", an HTTP status in "(404 Not Found) for url". Inside a build the
# fetch goes through the sandbox's egress proxy, whose 502 says in its reason phrase what failed.
_FAILED_URL = re.compile(r"for url \((?P<url>[^)\s]+)\)")
_HTTP_STATUS = re.compile(r"HTTP status (?:client|server) error \((?P<status>\d{3} .*?)\) for url \(")
_NETWORK_CAUSES = (  # (text in rattler's or the proxy's words, what the user reads)
    ("dns error", "DNS error"),
    ("cannot resolve", "DNS error"),
    ("connection refused", "connection refused"),
    ("connect call failed", "connection refused"),
    ("connection reset", "connection reset"),
    ("timed out", "timed out"),
    ("certificate", "TLS certificate error"),
)


def _unreachable(exc: Exception, channels: list[rattler.Channel]) -> str:
    """'The conda channel <url> is unreachable (<why> fetching <url>)' for an index that could not be fetched."""
    text = str(exc)
    failed = match.group("url") if (match := _FAILED_URL.search(text)) else ""
    channel = next((c.base_url for c in channels if failed.startswith(c.base_url)), failed or ", ".join(c.base_url for c in channels))
    lines = [line.removeprefix("Caused by:").strip() for line in text.splitlines() if line.strip()]
    why = next((said for cause, said in _NETWORK_CAUSES if cause in text.lower()), None)
    if why is None:
        status = _HTTP_STATUS.search(text)
        why = f"HTTP {status.group('status')}" if status else (lines[-1] if lines else type(exc).__name__)
    return f"The conda channel {channel} is unreachable ({why}{f' fetching {failed}' if failed else ''})"


def _virtual_packages() -> list[rattler.GenericVirtualPackage]:
    def virtual(name: str, version: str) -> rattler.GenericVirtualPackage:
        return rattler.GenericVirtualPackage(rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0"))

    return [virtual("__unix", "0"), virtual("__linux", LINUX), virtual("__glibc", GLIBC)]


def _channels(plan: CondaPlan, channel_alias: str) -> list[rattler.Channel]:
    config = rattler.ChannelConfig(channel_alias=channel_alias)
    names = list(plan.channels)
    for spec in plan.specs:  # `conda-forge::procps-ng` needs its channel among the sources
        if "::" in spec and spec.split("::")[0] not in names:
            names.append(spec.split("::")[0])
    return [rattler.Channel(name, config) for name in names]


async def solve(plan: CondaPlan, channel_alias: str) -> list[rattler.RepoDataRecord]:
    """The records to install; SolveError saying either that a channel is unreachable (the user
    fixes the channel or waits) or that the environment cannot be solved (the user fixes the specs)."""
    channels = _channels(plan, channel_alias)
    try:
        return await rattler.solve(
            sources=channels,
            specs=list(plan.specs),
            platforms=[plan.subdir, "noarch"],
            virtual_packages=_virtual_packages(),
        )
    except (rattler.exceptions.GatewayError, rattler.exceptions.FetchRepoDataError) as exc:
        raise SolveError(_unreachable(exc, channels)) from exc
    except RATTLER_ERRORS as exc:
        raise SolveError(f"The conda environment cannot be solved: {exc}") from exc


def _checksum(value: str) -> tuple[str, str]:
    """`sha256:<hex>`, a bare sha256, or a bare md5 (conda's own explicit form)."""
    if value.startswith("sha256:"):
        return "sha256", value[len("sha256:") :]
    return ("md5" if len(value) == 32 else "sha256"), value


def download_client() -> httpx.AsyncClient:
    """The client for package downloads: through the build sandbox's egress proxy (HTTPS_PROXY...),
    the child's only way out, which applies the SSRF policy to every connection."""
    return httpx.AsyncClient(follow_redirects=True, timeout=DOWNLOAD_TIMEOUT)


async def fetch_package(client: httpx.AsyncClient, url: str, checksum: str, path: Path) -> Path:
    """A package archive downloaded to `path` and checked against its `sha256:`/md5 checksum."""
    kind, expected = _checksum(checksum)
    try:
        with path.open("wb") as out:  # to disk: packages can be large
            actual = await download(client, url, out.write, hash_name=kind)
    except BadStatus as exc:
        raise SolveError(f"The package {url} cannot be fetched: HTTP {exc.status}") from None
    except (httpx.HTTPError, OciError) as exc:
        raise SolveError(f"The package {url} cannot be fetched: {exc}") from None
    if actual != expected:
        raise SolveError(f"The package {url} has {kind} {actual}, not {expected} as its record says")
    return path


def record_checksum(record: rattler.RepoDataRecord) -> str:
    if record.sha256:
        return f"sha256:{record.sha256.hex()}"
    if record.md5:
        return record.md5.hex()
    raise SolveError(f"The package {record.url} has no checksum in its channel's index")


async def install(records: list[rattler.RepoDataRecord], staging: Path, subdir: str, cache: Path) -> Path:
    """Link the packages into `staging/opt/conda`, with placeholders replaced by `/opt/conda`."""
    prefix = staging / PREFIX.lstrip("/")
    await rattler.install(
        records,
        target_prefix=prefix,
        alternative_target_prefix=PREFIX,
        platform=Subdir(subdir),
        cache_dir=cache,
        execute_link_scripts=False,
        show_progress=False,
    )
    return prefix
