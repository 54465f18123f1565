"""Response headers and cookie flags that do not depend on the view: what browsers are told about
the service's origin, whatever serves the response (pages, the API, `/v2/` outside the middleware).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware

FRAME_ANCESTORS = "frame-ancestors 'none'"


def https_settings(server_url: str, hsts_seconds: int) -> dict:
    """Django's HTTPS settings, derived from the address clients use: behind a TLS front
    (`WAVE_SERVER_URL` https) cookies are `Secure`, browsers are told to keep to HTTPS (HSTS), and
    the front's `X-Forwarded-Proto: https` marks a request as secure (uvicorn itself speaks HTTP)."""
    https = urlsplit(server_url).scheme == "https"
    return {
        "SESSION_COOKIE_SECURE": https,
        "CSRF_COOKIE_SECURE": https,
        "SECURE_HSTS_SECONDS": hsts_seconds if https else 0,
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https") if https else None,
    }


@sync_and_async_middleware
def frame_ancestors(get_response):
    """CSP `frame-ancestors 'none'` beside X-Frame-Options (which the CSP supersedes in browsers
    that know both): no page of the service is shown inside another site's frame."""

    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            response.headers.setdefault("Content-Security-Policy", FRAME_ANCESTORS)
            return response

    else:

        def middleware(request):
            response = get_response(request)
            response.headers.setdefault("Content-Security-Policy", FRAME_ANCESTORS)
            return response

    return middleware


def nosniff(get_response):
    """`X-Content-Type-Options: nosniff` for the `/v2/` handler, which runs without Django's
    SecurityMiddleware: a blob or manifest is never sniffed into HTML on the service's origin."""

    async def respond(request):
        response = await get_response(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return respond
