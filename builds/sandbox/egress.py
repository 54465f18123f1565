"""The only way out of a build's network namespaces: an HTTP proxy on Unix sockets, in the worker.

A build runs with no route anywhere (see `launch.py`); the launcher bridges a port on the sandbox's
own loopback to one of these sockets, and every connection through it is checked by the same SSRF
policy as the rest of the service (`oci.netguard`): the name is resolved once, refused when any
address is loopback, private, link-local or otherwise not global, and connected to by the checked
address. Two policies:

- `run`: what `RUN` steps reach (apt, pip, conda inside a Dockerfile); no allow-list at all, so the
  service's own stores and registry are never reachable from a user's code.
- `builder`: what the builder itself fetches (base images, `ADD <url>`, pushes, conda channels); the
  allow-list applies, as it does to every other fetch of the service.

Plus raw forwards to allow-listed loopback registries (`forwards`): clients written in Go never
send `localhost` or loopback addresses through a proxy, so the builder reaches the local registry
through a bridge of its own, and only the ports of the registries the build names.

Both `CONNECT host:port` (HTTPS) and absolute-form requests (`GET http://host/path`) are served; a
plain request is forwarded with `Connection: close`, so one client connection carries one request.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from oci.errors import ForbiddenAddress
from oci.netguard import AddressPolicy, Resolver, checked_addresses, resolve_addresses

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024  # bytes of request line and headers
HEAD_TIMEOUT = 30.0  # seconds for a client to send them
CONNECT_TIMEOUT = 20.0  # seconds
MAX_CONNECTIONS = 64  # at once, per proxy (the launcher's bridges hold as many)
KEPT_REFUSALS = 20  # distinct refusals kept for the build log; the rest are counted
UNREACHABLE = "Registry unreachable from the build sandbox:"  # starts a line of the build log, read by `BuildOutput`
_HOP_BY_HOP = (b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive")


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.write_eof() if writer.can_write_eof() else writer.close()
        except (OSError, RuntimeError):
            pass


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(f"//{authority}")
    try:
        port = parts.port or default_port
    except ValueError:
        raise Refused(400, f"'{authority}' is not a host and port") from None
    if not parts.hostname:
        raise Refused(400, f"'{authority}' names no host")
    return parts.hostname, port


class EgressProxy:
    """`ports`: the only ports it connects to (None: any)."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = resolve_addresses, name: str = "egress",
                 ports: frozenset[int] | None = None):
        self.policy, self.resolver, self.name, self.ports = policy, resolver, name, ports
        self.refusals: dict[str, None] = {}  # the first KEPT_REFUSALS distinct ones, in order
        self.refused_count = 0
        self.active = 0

    def _refuse(self, exc: Refused) -> None:
        self.refused_count += 1
        if len(self.refusals) < KEPT_REFUSALS:
            self.refusals[f"{self.name}: {exc}"] = None

    @property
    def refused(self) -> list[str]:
        dropped = self.refused_count - sum(1 for _ in self.refusals)
        return list(self.refusals) + ([f"{self.name}: ... and {dropped} more"] if dropped > 0 else [])

    async def _open(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.ports is not None and port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports))
            raise Refused(403, f"port {port} of '{host}' is not open to RUN steps (only {allowed}: WAVE_BUILD_EGRESS_PORTS)")
        try:
            addresses = await checked_addresses(self.policy, host, port, self.resolver)
        except ForbiddenAddress as exc:
            raise Refused(403, str(exc)) from None
        except socket.gaierror as exc:
            raise Refused(502, f"cannot resolve '{host}': {exc.strerror}") from None
        error: Exception | None = None
        for address in addresses:
            try:
                return await asyncio.wait_for(asyncio.open_connection(address, port), CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError) as exc:
                error = exc
        raise Refused(502, f"cannot connect to '{host}:{port}': {error or 'no address'}")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.active >= MAX_CONNECTIONS:
            writer.close()
            return
        self.active += 1
        try:
            await self._handle(reader, writer)
        finally:
            self.active -= 1

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            writer.close()
            return
        upstream = None
        try:
            request_line, *headers = head[:-4].split(b"\r\n")
            try:
                method, target, version = request_line.decode("latin-1").split(" ")
            except ValueError:
                raise Refused(400, "malformed request line") from None
            if method == "CONNECT":
                host, port = _split_authority(target, 443)
                upstream = await self._open(host, port)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                first = b""
            else:
                url = urlsplit(target)
                if url.scheme != "http" or not url.netloc:
                    raise Refused(400, f"'{target}' is not an absolute http:// URL (use CONNECT for https)")
                host, port = _split_authority(url.netloc, 80)
                upstream = await self._open(host, port)
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                kept = [h for h in headers if h.split(b":", 1)[0].strip().lower() not in _HOP_BY_HOP]
                first = b"\r\n".join([f"{method} {path} {version}".encode("latin-1"), *kept, b"Connection: close", b"", b""])
        except Refused as exc:
            self._refuse(exc)
            body = f"{exc}\n".encode()
            # The reason in the status line too: clients that report no body (rattler) still say why.
            why = " ".join(str(exc).split()).encode("ascii", "replace")
            writer.write(
                f"HTTP/1.1 {exc.status} Refused by the build sandbox's egress policy: ".encode() + why + b"\r\n"
                + f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = upstream
        up_writer.write(first)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        writer.close()
        up_writer.close()


def _why(exc: Exception) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer in {CONNECT_TIMEOUT:.0f} s"
    if getattr(exc, "errno", None) == errno.ECONNREFUSED or f"[Errno {errno.ECONNREFUSED}]" in str(exc):
        return "connection refused"  # also when localhost's every address refused it ("Multiple exceptions")
    return str(exc)


class Forward:
    """A raw forward to an allow-listed loopback registry. The builder sees a failed connection as a
    bare EOF (the bridge in the sandbox had accepted it), so the failures are kept for the log."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.failures: dict[str, int] = {}  # why -> how many times

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            why = _why(exc)
            self.failures[why] = self.failures.get(why, 0) + 1
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        writer.close()
        up_writer.close()

    @property
    def unreachable(self) -> list[str]:
        return [f"{UNREACHABLE} {self.host}:{self.port} ({why}, {count} times)" for why, count in self.failures.items()]


class Egress:
    """The proxies and forwards of one build, served from a thread of the worker on Unix sockets
    in `directory` (mode 0700): `run.sock`, `builder.sock`, and `forward-<port>.sock` each."""

    def __init__(self, directory: Path, allowlist: list[str], forwards: dict[int, str], resolver: Resolver = resolve_addresses,
                 run_ports: frozenset[int] | None = None):
        self.directory = directory
        self.run = EgressProxy(AddressPolicy(()), resolver, "RUN step", run_ports)
        self.builder = EgressProxy(AddressPolicy(allowlist), resolver, "builder")
        self.forwards = {port: Forward(host, port) for port, host in forwards.items()}  # of allow-listed loopback registries
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="egress")

    def socket(self, name: str) -> Path:
        return self.directory / f"{name}.sock"

    async def _serve(self) -> list[asyncio.AbstractServer]:
        servers = [
            await asyncio.start_unix_server(self.run.handle, self.socket("run"), limit=MAX_HEAD),
            await asyncio.start_unix_server(self.builder.handle, self.socket("builder"), limit=MAX_HEAD),
        ]
        for port, forward in self.forwards.items():
            servers.append(await asyncio.start_unix_server(forward.handle, self.socket(f"forward-{port}")))
        return servers

    def __enter__(self) -> Egress:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._thread.start()
        self._servers = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result()
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    @property
    def refused(self) -> list[str]:
        return self.builder.refused + self.run.refused

    @property
    def unreachable(self) -> list[str]:
        return [line for forward in self.forwards.values() for line in forward.unreachable]
