"""A registry on loopback that serves whatever manifest a test gives it: for the upstream's mistakes
that a real registry refuses to store (a manifest that is JSON but not a manifest)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oci import mediatypes


class FakeRegistry:
    def __init__(self):
        self.manifest = b"{}"
        self.blobs: dict[str, bytes] = {}  # digest -> the bytes served for it (right or wrong)
        self.media_type = mediatypes.OCI_MANIFEST
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/v2/":
                    self._send(200, "application/json", b"{}")
                elif "/manifests/" in self.path:
                    self._send(200, fake.media_type, fake.manifest)
                elif "/blobs/" in self.path and self.path.rpartition("/")[2] in fake.blobs:
                    self._send(200, "application/octet-stream", fake.blobs[self.path.rpartition("/")[2]])
                else:
                    self._send(404, "application/json", b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')

            do_HEAD = do_GET

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler
