"""A body that declares more than WAVE_MAX_BODY_SIZE is refused before it is read.

Django's ASGI handler reads the whole body (into a temporary file past 2.5 MiB) before it looks at
the size, so a stranger declaring gigabytes would make the service receive and store them first.
The answer is the same JSON 413 that Django's own check gives (`wave_site.errors.body_too_big`).
"""

from __future__ import annotations

import json

from django.conf import settings

from .errors import body_too_big


def limit_body(app):
    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
            if length.isdigit() and int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                body = json.dumps({"message": body_too_big({"CONTENT_LENGTH": length})}).encode()
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 413, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded
