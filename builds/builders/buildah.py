"""`buildah bud` in the build sandbox, then `buildah push`.

Both run in network namespaces of their own (`builds/sandbox`): the builder's fetches go through the
worker's egress proxy (or a bridge to an allow-listed loopback registry), and `RUN` steps run with
`--isolation oci` under runc (crun fails on cgroup v1 hybrid hosts), in private PID, mount, IPC,
UTS and network namespaces, with the default capabilities, no-new-privileges and the sandbox's limits.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Callable

from ..compression import push_flags
from ..process import run_streaming
from ..sandbox import sandboxed
from ..sandbox.spec import RUNTIME
from .base import BuildFailed, BuildSpec

# Seconds between the attempts of a push that failed to connect. Debian's buildah 1.28 makes 3 more
# attempts whatever `--retry` says: a registry back within about 15 s (a restart) is waited for.
PUSH_RETRY_DELAY = "5s"


class BuildahBuilder:
    def __init__(self, storage: Path):
        self.storage = storage

    def _env(self, spec: BuildSpec, work: Path) -> dict[str, str]:
        return {
            **os.environ,
            **spec.sandbox.environment(),
            "CONTAINERS_REGISTRIES_CONF": str(work / "registries.conf"),
            "REGISTRY_AUTH_FILE": str(work / "auth.json"),
            # Bundles and `RUN --mount=type=cache` folders live in the build's own folder, not in a
            # /var/tmp shared by every build (a cache mount would otherwise carry between users).
            "TMPDIR": str(work / "tmp"),
        }

    def _write_config(self, spec: BuildSpec, work: Path) -> None:
        (work / "tmp").mkdir(mode=0o700, exist_ok=True)
        # Short names (`FROM ubuntu`, Wave's templates) mean Docker Hub, as in Docker and parse_reference.
        insecure = "".join(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n\n' for host in sorted(spec.insecure_registries))
        (work / "registries.conf").write_text('unqualified-search-registries = ["docker.io"]\n\n' + insecure)
        auths = {
            host: {"auth": base64.b64encode(f"{c.username}:{c.password}".encode()).decode()}
            for host, c in spec.credentials.items()
        }
        auth_file = work / "auth.json"
        auth_file.touch(mode=0o600)
        auth_file.write_text(json.dumps({"auths": auths}))

    def build(self, spec: BuildSpec, output: Callable[[str], None], deadline: float, tick: Callable[[], None]) -> str:
        work = spec.context.parent
        self._write_config(spec, work)
        store = ["buildah", "--root", str(self.storage / "root"), "--runroot", str(self.storage / "runroot")]
        bud = [
            *store, "bud", "--isolation", "oci", "--runtime", str(RUNTIME), "--network", "@RUN_NETNS@", "--platform", spec.platform,
            "--timestamp", "0", "--layers", "--force-rm", "-f", str(spec.context / "Dockerfile"), "-t", spec.target,
        ]
        if spec.cache_repository:
            bud += ["--cache-from", spec.cache_repository, "--cache-to", spec.cache_repository]
        env = self._env(spec, work)
        digest_file = work / "digest"
        destination = f"oci:{spec.oci_layout}:image" if spec.oci_layout else f"docker://{spec.target}"
        push = [
            *store, "push", "--retry-delay", PUSH_RETRY_DELAY, *push_flags(spec.compression), "--digestfile", str(digest_file),
            spec.target, destination,
        ]
        announce = "Writing the image for its conversion" if spec.oci_layout else f"Pushing {spec.target}"
        with sandboxed(spec.sandbox, output) as launch:
            command = launch({"argv": [*bud, str(spec.context)]}, {"argv": push, "announce": announce})
            status = run_streaming(command, on_output=output, deadline=deadline, tick=tick, env=env, cwd=str(work))
        if status != 0 or not digest_file.exists():
            raise BuildFailed(f"buildah exited with status {status}", status)
        return digest_file.read_text().strip()
