"""Run by tests through builds.unprivileged, as the build user: report who it is and what it can reach."""

from __future__ import annotations

import os


def main(args: list[str]) -> int:
    print(f"uid={os.getuid()} gid={os.getgid()} groups={os.getgroups()} secret_key_in_env={'SECRET_KEY' in os.environ}", flush=True)
    action, value = args
    if action == "read":
        try:
            with open(value, "rb") as file:
                print(f"read {len(file.read())} bytes", flush=True)
                return 0
        except OSError as exc:
            print(f"denied: {exc.strerror}", flush=True)
            return 3
    bytearray(int(value))  # action "allocate": a MemoryError past the limit
    print("allocated", flush=True)
    return 0
