#!/usr/bin/python3
"""Run a builder command in network namespaces of its own, whose only way out is the worker's proxy.

    netns.py '<spec json>' -- buildah ... --network @RUN_NETNS@ ...

The launcher moves itself into a new network namespace holding nothing but a loopback interface,
bridges the ports listed in `bridges` (127.0.0.1:<port> -> a Unix socket served by the worker's
`egress.Egress`), then runs the command. With `run_bridge`, it first forks a second, separate
namespace for `RUN` steps, where 127.0.0.1:3128 leads to the `run` proxy and nothing else, and
puts its path (`/proc/<pid>/ns/net`) in place of `@RUN_NETNS@`. Namespaces die with their
processes: nothing is left behind by a killed build.

Stdlib only: it runs before, and apart from, Django. Needs CAP_SYS_ADMIN (the worker is root).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PROXY_PORT = 3128
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _new_network_namespace() -> None:
    if _libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def _die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


def _bridge(path: str):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(path)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        writer.close()
        up_writer.close()

    return handle


async def _listen(bridges: dict[int, str]) -> list[asyncio.AbstractServer]:
    return [await asyncio.start_server(_bridge(path), "127.0.0.1", port) for port, path in bridges.items()]


def _run_namespace(run_socket: str) -> int:
    """Fork the RUN steps' namespace: its pid once it listens (its netns lives as long as it does)."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _die_with_parent()
        _new_network_namespace()
        loop = asyncio.new_event_loop()
        loop.run_until_complete(_listen({PROXY_PORT: run_socket}))
        os.write(ready_w, b"1")
        os.close(ready_w)
        loop.run_forever()
        os._exit(0)
    os.close(ready_w)
    if os.read(ready_r, 1) != b"1":
        raise RuntimeError("the RUN steps' network namespace did not start")
    os.close(ready_r)
    return pid


async def _run(argv: list[str], bridges: dict[int, str]) -> int:
    await _listen(bridges)
    process = await asyncio.create_subprocess_exec(*argv, preexec_fn=_die_with_parent)
    return await process.wait()


def main() -> int:
    spec, argv = json.loads(sys.argv[1]), sys.argv[3:]
    _die_with_parent()
    if spec.get("run_bridge"):
        child = _run_namespace(spec["run_bridge"])
        argv = [arg.replace("@RUN_NETNS@", f"ns:/proc/{child}/ns/net") for arg in argv]
    else:
        argv = [arg.replace("@RUN_NETNS@", "none") for arg in argv]
    _new_network_namespace()
    bridges = {int(port): path for port, path in spec.get("bridges", {}).items()}
    return asyncio.run(_run(argv, bridges))


if __name__ == "__main__":
    sys.exit(main())
