"""`buildah bud --isolation chroot` with runc (crun fails on cgroup v1 hybrid hosts), then `buildah push`."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Callable

from ..process import run_streaming
from .base import BuildFailed, BuildSpec


class BuildahBuilder:
    def __init__(self, storage: Path):
        self.storage = storage

    def _env(self, work: Path) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(work / "registries.conf"), "REGISTRY_AUTH_FILE": str(work / "auth.json")}

    def _write_config(self, spec: BuildSpec, work: Path) -> None:
        (work / "registries.conf").write_text(
            "".join(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n\n' for host in sorted(spec.insecure_registries))
        )
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
            *store, "bud", "--isolation", "chroot", "--runtime", "runc", "--platform", spec.platform,
            "--timestamp", "0", "--layers", "--force-rm", "-f", str(spec.context / "Dockerfile"), "-t", spec.target,
        ]
        if spec.cache_repository:
            bud += ["--cache-from", spec.cache_repository, "--cache-to", spec.cache_repository]
        env = self._env(work)
        status = run_streaming([*bud, str(spec.context)], on_output=output, deadline=deadline, tick=tick, env=env, cwd=str(work))
        if status != 0:
            raise BuildFailed(f"buildah bud exited with status {status}", status)
        digest_file = work / "digest"
        push = [*store, "push", "--digestfile", str(digest_file), spec.target, f"docker://{spec.target}"]
        output(f"Pushing {spec.target}\n")
        status = run_streaming(push, on_output=output, deadline=deadline, tick=tick, env=env, cwd=str(work))
        if status != 0:
            raise BuildFailed(f"buildah push exited with status {status}", status)
        return digest_file.read_text().strip()
