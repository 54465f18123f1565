"""Build benchmark: a small Dockerfile built and pushed in the sandbox, against the unsandboxed builder.

Needs the local stack (`scripts/stack up`). Each round builds `FROM busybox` + one `RUN` with a new
marker (so no layer cache hides the RUN step) twice: once as the builder did before the sandbox
(`buildah bud --isolation chroot` on the host network, then `buildah push`), once through
`BuildahBuilder` (network namespaces, egress proxy, `--isolation oci` under the runc wrapper). Prints
the median of each and their ratio, measured in the same run.

    .venv/bin/python benchmarks/build.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wave_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from builds.builders.base import BuildSpec  # noqa: E402
from builds.builders.buildah import BuildahBuilder  # noqa: E402
from builds.context import sandbox_spec  # noqa: E402


def context(work: Path) -> Path:
    ctx = work / "context"
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(f"FROM {settings.WAVE_DEFAULT_REGISTRY}/library/busybox:latest\nRUN echo {uuid.uuid4().hex} > /marker\n")
    return ctx


def credentials() -> dict:
    """The service's own credentials for its registry (the stack's registry demands them)."""
    found = settings.WAVE_REGISTRY_CREDENTIALS.get(settings.WAVE_DEFAULT_REGISTRY)
    return {settings.WAVE_DEFAULT_REGISTRY: found} if found else {}


def unsandboxed(storage: Path, work: Path, target: str) -> None:
    """The builder before the sandbox: chroot isolation, the host's network and PID namespace."""
    (work / "registries.conf").write_text(f'[[registry]]\nlocation = "{settings.WAVE_DEFAULT_REGISTRY}"\ninsecure = true\n')
    auths = {host: {"auth": base64.b64encode(f"{c.username}:{c.password}".encode()).decode()} for host, c in credentials().items()}
    (work / "auth.json").write_text(json.dumps({"auths": auths}))
    env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(work / "registries.conf"), "REGISTRY_AUTH_FILE": str(work / "auth.json")}
    store = ["buildah", "--root", str(storage / "root"), "--runroot", str(storage / "runroot")]
    ctx = context(work)
    subprocess.run([*store, "bud", "--isolation", "chroot", "--runtime", "runc", "--timestamp", "0", "--layers",
                    "-f", str(ctx / "Dockerfile"), "-t", target, str(ctx)], env=env, check=True, capture_output=True)
    subprocess.run([*store, "push", target, f"docker://{target}"], env=env, check=True, capture_output=True)


def sandboxed(storage: Path, work: Path, target: str) -> None:
    registry = settings.WAVE_DEFAULT_REGISTRY
    spec = BuildSpec(context=context(work), target=target, platform=settings.WAVE_DEFAULT_PLATFORM, cache_repository=None,
                     insecure_registries=frozenset({registry}), sandbox=sandbox_spec({registry}), credentials=credentials())
    BuildahBuilder(storage).build(spec, output=lambda text: None, deadline=time.monotonic() + 300, tick=lambda: None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    storage = Path(settings.WAVE_DATA_DIR) / "buildah"
    times: dict[str, list[float]] = {"unsandboxed": [], "sandboxed": []}
    for _ in range(args.rounds):
        for name, build in (("unsandboxed", unsandboxed), ("sandboxed", sandboxed)):
            with tempfile.TemporaryDirectory(dir=Path(settings.WAVE_DATA_DIR) / "builds") as work:
                target = f"{settings.WAVE_DEFAULT_REGISTRY}/benchmark/build:{uuid.uuid4().hex[:12]}"
                start = time.perf_counter()
                build(storage, Path(work), target)
                times[name].append(time.perf_counter() - start)
    base, sandbox = statistics.median(times["unsandboxed"]), statistics.median(times["sandboxed"])
    print(f"small Dockerfile build + push, median of {args.rounds}:")
    print(f"  unsandboxed (chroot, host network): {base:.2f} s")
    print(f"  sandboxed (netns + egress, oci):    {sandbox:.2f} s")
    print(f"  ratio sandboxed / unsandboxed:      {sandbox / base:.2f}x")


if __name__ == "__main__":
    main()
