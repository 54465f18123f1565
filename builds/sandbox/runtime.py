#!/usr/bin/python3 -IS
"""The OCI runtime buildah runs RUN steps with: runc, with each container's config checked and the
sandbox's limits written into it first (buildah 1.28 has no flag for no-new-privileges or a pids limit).

Refused, whatever the Dockerfile says: `RUN --mount` (buildah 1.28, Debian 12's, lets a cache `id`,
a link in a mounted image or a propagation option reach the host's files: CVE-2024-9675,
CVE-2024-1753, CVE-2024-9407; buildah stages every such mount at `<bundle>/mnt/buildah-bind-target-N`),
shared mount propagation, and any network namespace but the one the launcher made for RUN steps.

Stdlib only, run by the system Python: buildah executes it for every RUN step. Settings come from
the environment buildah passes on: WAVE_SANDBOX_PIDS, WAVE_SANDBOX_MEMORY (bytes), WAVE_SANDBOX_CPUS
(a float), WAVE_SANDBOX_RUN_NETNS (`none`, or `ns:<path>` from the launcher).
"""

import json
import os
import sys

CPU_PERIOD = 100_000  # microseconds


class Refused(Exception):
    pass


def check(spec: dict) -> None:
    for mount in spec.get("mounts", []):
        if "/mnt/buildah-bind-target-" in mount.get("source", ""):
            raise Refused(f"RUN --mount (of {mount.get('destination')}) is not available in this builder")
        if {"shared", "rshared", "slave", "rslave"} & set(mount.get("options", [])):
            mount_options = ",".join(mount.get("options", []))
            raise Refused(f"a mount of {mount.get('destination')} with propagation '{mount_options}' is not allowed")
    network = next((n for n in spec.get("linux", {}).get("namespaces", []) if n.get("type") == "network"), None)
    wanted = os.environ.get("WAVE_SANDBOX_RUN_NETNS", "none")
    path = wanted[3:] if wanted.startswith("ns:") else None
    if network is None or network.get("path") != path:
        raise Refused("a RUN step must run in the sandbox's own network namespace (RUN --network is not available)")


def harden(bundle: str) -> None:
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    check(spec)
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
        try:
            harden(argv[argv.index("--bundle") + 1])
        except Refused as exc:
            print(f"error: the build sandbox refused a RUN step: {exc}", file=sys.stderr, flush=True)
            sys.exit(1)
    os.execvp("runc", ["runc", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
