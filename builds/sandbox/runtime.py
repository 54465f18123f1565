#!/usr/bin/python3 -IS
"""The OCI runtime buildah runs RUN steps with: runc, with the sandbox's limits written into each
container's config first (buildah 1.28 has no flag for no-new-privileges or a pids limit).

Stdlib only, run by the system Python: buildah executes it for every RUN step.
Limits come from the environment buildah passes on: WAVE_SANDBOX_PIDS, WAVE_SANDBOX_MEMORY (bytes),
WAVE_SANDBOX_CPUS (a float).
"""

import json
import os
import sys

CPU_PERIOD = 100_000  # microseconds


def harden(bundle: str) -> None:
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    spec.setdefault("process", {})["noNewPrivileges"] = True
    resources = spec.setdefault("linux", {}).setdefault("resources", {})
    resources["pids"] = {"limit": int(os.environ.get("WAVE_SANDBOX_PIDS", "1024"))}
    memory = int(os.environ.get("WAVE_SANDBOX_MEMORY", "0"))
    if memory:
        resources["memory"] = {**resources.get("memory", {}), "limit": memory, "swap": memory}
    cpus = float(os.environ.get("WAVE_SANDBOX_CPUS", "0"))
    if cpus:
        resources["cpu"] = {**resources.get("cpu", {}), "period": CPU_PERIOD, "quota": int(cpus * CPU_PERIOD)}
    with open(path, "w") as f:
        json.dump(spec, f)


def main(argv: list[str]) -> None:
    if "create" in argv or "run" in argv:
        harden(argv[argv.index("--bundle") + 1])
    os.execvp("runc", ["runc", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
