#!/usr/bin/python3
"""Run builder commands in namespaces of their own, whose only way out is the worker's proxy.

    launch.py '<spec json>'

The launcher makes a PID and a mount namespace, whose first process (pid 1, with its own /proc)
does the rest: when it dies, or the launcher does (any kill of the worker, the job or the build),
the kernel kills every process in them, runc's RUN containers included, and their mounts go too.
That process optionally makes `expose` reachable by unprivileged users and empties the folders of
`hide`, moves into a new network namespace holding nothing but a loopback interface, bridges the
ports listed in `bridges` (127.0.0.1:<port> -> a Unix socket served by the worker's
`egress.Egress`), then runs `commands` one after the other (each `{"argv": [...], "announce": "a
line printed before it"}`) until one fails, and exits with its status. With `run_bridge`, it first
forks a second, separate namespace for `RUN` steps, where 127.0.0.1:3128 leads to the `run` proxy
and nothing else, and puts its path (`ns:/proc/<pid>/ns/net`) in place of `@RUN_NETNS@` (`none`
without it). Namespaces die with their processes: nothing is left behind by a killed build.

Stdlib only: it runs before, and apart from, Django. Needs CAP_SYS_ADMIN (the worker is root).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 0x1, 0x2, 0x4, 0x8, 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PROXY_PORT = 3128
MAX_CONNECTIONS = 64  # at once, per bridge
_libc = ctypes.CDLL("libc.so.6", use_errno=True)
# Plain threads and os.fork rather than asyncio and subprocess: this runs for every build, and
# importing those costs more than the rest of the launcher.


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), f"unshare({flags:#x}) failed")


def _mount(source: str, target: str, kind: str | None, flags: int, options: str | None = None) -> None:
    data = options.encode() if options else None
    if _libc.mount(source.encode(), target.encode(), kind.encode() if kind else None, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target} failed")


def _expose(path: str) -> None:
    """Make `path` reachable by any user in this mount namespace: a checkout in a private folder
    (under /root, or a 0700 folder of its own) is otherwise out of an unprivileged child's reach.
    The highest folder others cannot enter is covered with an empty tmpfs and the way down to `path`
    made again; `path` is bound back in its place, or, when it is private itself (a bind keeps its
    mode), each of its entries."""
    path = path.rstrip("/")
    parts = path.split("/")
    chain = ["/".join(parts[:i]) for i in range(2, len(parts) + 1)]  # every folder from the top down to path
    blocked = [folder for folder in chain if not os.stat(folder).st_mode & 0o001]
    if not blocked:
        return
    held = os.open(path, os.O_PATH | os.O_DIRECTORY)  # the original, still reachable once covered
    entries = os.listdir(f"/proc/self/fd/{held}") if blocked[-1] == path else None
    _mount("tmpfs", blocked[0], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    os.makedirs(path, mode=0o755, exist_ok=True)
    if entries is None:
        _mount(f"/proc/self/fd/{held}", path, None, MS_BIND | MS_REC)
    for name in entries or []:
        source, target = f"/proc/self/fd/{held}/{name}", f"{path}/{name}"
        if os.path.isdir(source) and not os.path.islink(source):
            os.mkdir(target)
        elif os.path.islink(source):
            os.symlink(os.readlink(source), target)
            continue
        else:
            open(target, "w").close()
        _mount(source, target, None, MS_BIND | MS_REC)
    os.close(held)


def _hide(path: str) -> None:
    """An empty, read-only folder where `path` was (the data folder and its secrets)."""
    if os.path.isdir(path):
        _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0000,size=4k")


def _new_network_namespace() -> None:
    """A network namespace with its loopback interface up (`ip link set lo up`, without `ip`)."""
    _unshare(CLONE_NEWNET)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        name, flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack("16sH", b"lo", 0))[:18])
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", name, flags | IFF_UP))


def _die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _connect(client: socket.socket, path: str, slots: threading.BoundedSemaphore) -> None:
    upstream = socket.socket(socket.AF_UNIX)
    try:
        upstream.connect(path)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
    except (OSError, RuntimeError):  # RuntimeError: no thread could be started
        pass
    finally:
        client.close()
        upstream.close()
        slots.release()


def _serve(listener: socket.socket, path: str) -> None:
    # Two threads a connection, outside the RUN step's pids limit: a step opening connections by
    # the thousand must not exhaust the host's processes. Past MAX_CONNECTIONS, it is hung up on.
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    while True:
        try:
            client, _ = listener.accept()
        except OSError:  # out of descriptors: wait for some to close
            time.sleep(0.1)
            continue
        if not slots.acquire(blocking=False):
            client.close()
            continue
        try:
            threading.Thread(target=_connect, args=(client, path, slots), daemon=True).start()
        except RuntimeError:
            client.close()
            slots.release()


def _listen(bridges: dict[int, str]) -> None:
    """127.0.0.1:<port> -> the Unix socket, for each bridge; listening when this returns."""
    for port, path in bridges.items():
        listener = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=_serve, args=(listener, path), daemon=True).start()


def _run_namespace(run_socket: str) -> int:
    """Fork the RUN steps' namespace: its pid once it listens (its netns lives as long as it does)."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _die_with_parent()
        _new_network_namespace()
        _listen({PROXY_PORT: run_socket})
        os.write(ready_w, b"1")
        os.close(ready_w)
        threading.Event().wait()
    os.close(ready_w)
    if os.read(ready_r, 1) != b"1":
        raise RuntimeError("the RUN steps' network namespace did not start")
    os.close(ready_r)
    return pid


def _run(argv: list[str]) -> int:
    pid = os.fork()
    if pid == 0:
        _die_with_parent()
        os.execvp(argv[0], argv)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _sandboxed(spec: dict) -> int:
    """pid 1 of the new PID namespace: /proc of its own, the network namespaces, the commands."""
    _die_with_parent()
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if spec.get("expose"):
        _expose(spec["expose"])
    for path in spec.get("hide", []):
        _hide(path)
    netns = "none"
    if spec.get("run_bridge"):
        netns = f"ns:/proc/{_run_namespace(spec['run_bridge'])}/ns/net"
    os.environ["WAVE_SANDBOX_RUN_NETNS"] = netns  # what runtime.py holds every RUN step to
    _new_network_namespace()
    _listen({int(port): path for port, path in spec.get("bridges", {}).items()})
    for command in spec["commands"]:
        if command.get("announce"):
            print(command["announce"], flush=True)
        status = _run([arg.replace("@RUN_NETNS@", netns) for arg in command["argv"]])
        if status != 0:
            return status if status > 0 else 128 - status
    return 0


def main() -> int:
    spec = json.loads(sys.argv[1])
    _die_with_parent()
    _unshare(CLONE_NEWNS | CLONE_NEWPID)
    _mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing mounted inside shows outside
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _sandboxed(spec)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
