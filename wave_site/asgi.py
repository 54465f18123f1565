"""The ASGI application: `/v2/` through a handler without the page middleware, the rest as usual.

The pull path has no sessions, CSRF or messages; skipping that middleware saves a thread hop per
middleware on every manifest and blob request.
"""

import asyncio
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wave_site.settings")

import django  # noqa: E402

django.setup(set_prefix=False)

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402

from registries.clients import serve_on  # noqa: E402
from wave_site.body_limit import limit_body  # noqa: E402
from wave_site.security_headers import nosniff  # noqa: E402


class BareASGIHandler(ASGIHandler):
    """Django's ASGI handler with an empty middleware chain."""

    chunk_size = 1024 * 1024  # stored blobs (up to WAVE_MAX_LAYER_SIZE) go out in 1 MiB writes, not 64 KiB

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = nosniff(convert_exception_to_response(self._get_response_async))


from wave_site.dbpool import start_sweeper  # noqa: E402
from wave_site.observability import forget_dead_processes  # noqa: E402

# Each web process (WAVE_WEB_WORKERS of them, spawned, not forked) runs this: its own sweeper thread,
# and its own pools, listeners and pull-record writer, made on its loop at first use.
django_application = get_asgi_application()
start_sweeper()
forget_dead_processes()
registry_application = BareASGIHandler()


async def application(scope, receive, send):
    serve_on(asyncio.get_running_loop())  # this loop outlives requests: upstream clients pool on it
    if scope["type"] == "http" and scope["path"].startswith("/v2/"):
        return await registry_application(scope, receive, send)
    return await django_application(scope, receive, send)


application = limit_body(application)  # a body declared too large is refused before it is read
