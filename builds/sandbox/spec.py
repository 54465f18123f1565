"""How a builder command is sandboxed: its network namespaces and egress, and the limits of RUN steps."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .egress import Egress
from .launch import PROXY_PORT

HERE = Path(__file__).resolve().parent
RUNTIME = HERE / "runtime.py"  # runc, with noNewPrivileges and the limits written into each RUN's config
PROXY_URL = f"http://127.0.0.1:{PROXY_PORT}"


@dataclass(frozen=True)
class SandboxSpec:
    network: str  # "egress": RUN steps reach public addresses through the proxy; "none": nothing at all
    allowlist: tuple[str, ...]  # hosts the builder itself may fetch from although they are not public
    forwards: dict[int, str] = field(default_factory=dict)  # port -> host of allow-listed loopback registries
    memory: int = 0  # bytes, per RUN step
    cpus: float = 0.0
    pids: int = 1024
    run_ports: frozenset[int] = frozenset({80, 443})  # the ports RUN steps may connect to
    expose: str = ""  # a folder made reachable by unprivileged users inside (the app, for the conda child)
    hide: tuple[str, ...] = ()  # folders replaced by an empty one inside (the data folder)

    def environment(self) -> dict[str, str]:
        """What the builder runs with: proxies (RUN steps inherit them) and the limits for RUNTIME."""
        proxies = {name: PROXY_URL for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
        return {
            **proxies, "NO_PROXY": "", "no_proxy": "",
            "WAVE_SANDBOX_PIDS": str(self.pids), "WAVE_SANDBOX_MEMORY": str(self.memory), "WAVE_SANDBOX_CPUS": str(self.cpus),
        }


@contextlib.contextmanager
def sandboxed(spec: SandboxSpec, output: Callable[[str], None]) -> Iterator[Callable[..., list[str]]]:
    """While the sandbox's egress is served: a function making the argv that runs commands (each
    `{"argv": [...], "announce": "..."}`) in the sandbox's namespaces, in order, until one fails.
    What the egress refused, and the registries it could not reach, go to `output` at the end.

    Arguments may hold `@RUN_NETNS@`: the namespace RUN steps join (`none` without egress).
    """
    # Unix socket paths are short (108 bytes): a folder of their own in /tmp, whatever the data path.
    directory = Path(tempfile.mkdtemp(prefix="wave-egress-"))
    try:
        with Egress(directory, list(spec.allowlist), spec.forwards, run_ports=spec.run_ports) as egress:
            bridges = {PROXY_PORT: str(egress.socket("builder"))}
            bridges.update({port: str(egress.socket(f"forward-{port}")) for port in spec.forwards})
            run_bridge = str(egress.socket("run")) if spec.network == "egress" else None

            def launch(*commands: dict) -> list[str]:
                plan = {"bridges": bridges, "run_bridge": run_bridge, "expose": spec.expose, "hide": list(spec.hide),
                        "commands": list(commands)}
                return [sys.executable, "-I", "-S", str(HERE / "launch.py"), json.dumps(plan)]

            try:
                yield launch
            finally:
                for refusal in egress.refused:
                    output(f"Refused by the build sandbox's egress policy: {refusal}\n")
                for line in egress.unreachable:
                    output(f"{line}\n")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
