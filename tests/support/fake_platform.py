"""A small fake Seqera Platform on loopback: answers user-info and the workspace list for the tokens
it knows, 401 for others, records every request, and can be told to misbehave."""

from __future__ import annotations

import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakePlatform:
    def __init__(self):
        self.users: dict[str, dict] = {}  # token -> the user-info `user`
        self.workspaces: dict[int, list[dict]] = {}  # Platform user id -> orgsAndWorkspaces
        self.requests: list[tuple[str, str]] = []  # (path, Authorization header)
        self.answer: tuple[int, dict, bytes] | None = None  # a fixed (status, headers, body) for every call
        self.gate: threading.Barrier | None = None  # calls wait here for each other before answering
        self.hang = threading.Event()  # set: calls wait until `released`
        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_user(self, id: int, userName: str, email: str, **extra) -> str:
        token = "eyJ0aWQiOiA" + secrets.token_urlsafe(24)  # shaped like a Platform token, not like ours
        self.users[token] = {"id": id, "userName": userName, "email": email, **extra}
        return token

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def _respond(self, path: str, authorization: str) -> tuple[int, dict, bytes]:
        if self.answer is not None:
            return self.answer
        scheme, _, token = authorization.partition(" ")
        user = self.users.get(token) if scheme == "Bearer" else None
        if user is None:
            return 401, {}, b'{"message":"Unauthorized"}'
        if path == "/user-info":
            return 200, {}, json.dumps({"user": user}).encode()
        match = re.fullmatch(r"/user/(\d+)/workspaces", path)
        if match and int(match[1]) == user["id"]:
            return 200, {}, json.dumps({"orgsAndWorkspaces": self.workspaces.get(user["id"], [])}).encode()
        return (403, {}, b'{"message":"Forbidden"}') if match else (404, {}, b"{}")

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append((self.path, self.headers.get("Authorization", "")))
                if fake.gate is not None:
                    fake.gate.wait()
                if fake.hang.is_set():
                    fake.released.wait(30)
                status, headers, body = fake._respond(self.path, self.headers.get("Authorization", ""))
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the service stopped reading a huge answer
                    pass

            def log_message(self, *args):
                pass

        return Handler


def trust(settings, *platforms: FakePlatform) -> None:
    """Make the fake Platforms endpoints the operator trusts (loopback 127.0.0.1 is on the tests'
    SSRF allow-list, as the test registries are)."""
    settings.WAVE_PLATFORM_ENDPOINTS = ["https://api.cloud.seqera.io", *(p.url for p in platforms)]
