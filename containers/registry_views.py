"""The OCI distribution pull API for `/v2/wt/<token>/<name>`: thin async views over `proxy`.

Errors are mapped to the registry error format in one place (`registry_endpoint`), so that
`docker pull` and skopeo print a readable reason.
"""

from __future__ import annotations

import functools
import logging
import re
import time

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from limits import ratelimit
from metrics.events import PullRecord, record_pull_soon
from limits.ratelimit import client_ip
from oci import errors, mediatypes
from wave_site.errors import internal_error_message
from wave_site.observability import BYTES_STREAMED, observe, start_request
from wave_site.storage import Unreachable

from . import proxy
from .token_guard import guarded_load_token
from .tokens import TokenInfo

log = logging.getLogger(__name__)

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# An upstream names its manifest's type (in its Content-Type or the JSON's `mediaType`): only the
# manifest types pass, and blobs are always BLOB_TYPE, so that no upstream gets `text/html` served
# on the service's origin.
_MANIFEST_TYPES = mediatypes.INDEX_TYPES | mediatypes.IMAGE_TYPES | mediatypes.SCHEMA1_TYPES
BLOB_TYPE = "application/octet-stream"


def registry_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return JsonResponse(body, status=status, headers={**API_VERSION, **(headers or {})})


async def _answer(view, kind: str, request: HttpRequest, *args, **kwargs) -> HttpResponse:
    try:
        return await view(request, *args, **kwargs)
    except proxy.ProxyError as exc:
        return registry_error(exc.status, exc.code, exc.message, exc.headers)
    except errors.NotFound as exc:
        return registry_error(404, f"{kind}_UNKNOWN", str(exc))
    except errors.Unauthorized as exc:
        return registry_error(401, "UNAUTHORIZED", str(exc))
    except errors.RegistryUnreachable as exc:
        return registry_error(502, "UNAVAILABLE", str(exc))
    except Unreachable as exc:  # the service's own object store (README, Object storage)
        log.warning("object store unreachable on %s: %s", request.path, exc)
        return registry_error(503, "UNAVAILABLE", f"Unavailable: {exc}")
    except errors.OciError as exc:
        log.warning("upstream error on %s: %s", request.path, exc)
        return registry_error(502, "UNKNOWN", str(exc))
    except Exception:  # noqa: BLE001 (our own bug: logged with its traceback, answered with the request id)
        log.exception("internal error on %s", request.path)
        return registry_error(500, "UNKNOWN", internal_error_message())


def registry_endpoint(kind: str):
    """Turn the pull path's exceptions into registry errors (`kind` picks the not-found code); give
    each request an id and a latency sample, as the middleware the pull path skips would."""

    def decorate(view):
        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args, **kwargs):
            started = time.perf_counter()
            rid = start_request(request.headers.get("X-Request-Id"))
            response = await _answer(view, kind, request, *args, **kwargs)
            response["X-Request-Id"] = rid
            observe(request, response.status_code, started)
            return response

        return wrapper

    return decorate


async def _token(request: HttpRequest, token: str, name: str) -> TokenInfo:
    info = await guarded_load_token(token, client_ip(request.META))
    if info is None:
        raise proxy.ProxyError(404, "NAME_UNKNOWN", f"Unknown, revoked or expired container token '{token}'")
    if name != info.path:
        raise proxy.ProxyError(404, "NAME_UNKNOWN", f"Repository '{name}' is not the image of container token '{token}'")
    return info


async def root(request: HttpRequest) -> HttpResponse:
    return JsonResponse({}, headers=API_VERSION)


async def unknown(request: HttpRequest, path: str = "") -> HttpResponse:
    return registry_error(404, "NAME_UNKNOWN", f"Unknown repository '{path}': pull images as <server>/wt/<token>/<image>")


@registry_endpoint("MANIFEST")
async def manifest(request: HttpRequest, token: str, name: str, reference: str) -> HttpResponse:
    info = await _token(request, token, name)
    ip = client_ip(request.META)
    if request.method == "GET":
        try:
            await ratelimit.acheck("pulls", info.user_id, ip)
        except ratelimit.RateLimited as exc:
            raise proxy.ProxyError(429, "TOOMANYREQUESTS", exc.message, {"Retry-After": str(exc.retry_after)}) from None
    served = await proxy.resolve_manifest(info, reference)
    if request.method == "GET" and not served.is_index:
        record = PullRecord(token=info.token, user_id=info.user_id, org=info.org, image=info.image,
                            platform=info.platform, fusion=info.fusion)
        record_pull_soon(record, served.digest, ip)
    headers = {
        **API_VERSION,
        "Docker-Content-Digest": served.digest,
        "Content-Length": str(len(served.raw)),
        "ETag": f'"{served.digest}"',
    }
    body = served.raw if request.method == "GET" else b""
    content_type = served.media_type if served.media_type in _MANIFEST_TYPES else BLOB_TYPE
    return HttpResponse(body, content_type=content_type, headers=headers)


def _ranged(data: bytes, range_header: str | None, digest: str, head: bool) -> HttpResponse:
    headers = {**API_VERSION, "Docker-Content-Digest": digest, "Accept-Ranges": "bytes"}
    start, end, status = 0, len(data) - 1, 200
    if range_header:
        match = _RANGE.match(range_header.strip())
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), len(data) - 1) if match.group(2) else len(data) - 1
            else:  # a suffix: the last N bytes
                start = max(len(data) - int(match.group(2)), 0)
        if not match or start > end or start >= len(data):
            return registry_error(416, "BLOB_UNKNOWN", f"Range '{range_header}' cannot be satisfied", {"Content-Range": f"bytes */{len(data)}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    part = data[start : end + 1]
    headers["Content-Length"] = str(len(part))
    return HttpResponse(b"" if head else part, status=status, content_type=BLOB_TYPE, headers=headers)


_PASSED_HEADERS = ("content-length", "content-range", "docker-content-digest", "accept-ranges", "etag")


async def _stream(upstream, done=None):
    """The upstream's body; `done()` is awaited once the last byte arrived, before it is yielded:
    a client that hangs up on its last byte has the server cancel this generator there."""
    expected = int(next((v for k, v in upstream.headers.items() if k.lower() == "content-length"), -1))
    sent = 0
    async for chunk in upstream.chunks():
        BYTES_STREAMED.inc(len(chunk))
        sent += len(chunk)
        if done is not None and sent == expected:
            await done()
            done = None
        yield chunk
    if done is not None:
        await done()


@registry_endpoint("BLOB")
async def blob(request: HttpRequest, token: str, name: str, digest: str) -> HttpResponse:
    info = await _token(request, token, name)
    head = request.method == "HEAD"
    range_header = request.headers.get("Range")
    data = await proxy.granted_blob(info, digest)
    if data is not None:
        return _ranged(data, range_header, digest, head)
    if not head and (location := await proxy.cached_blob_url(info, digest)):
        # The store serves the bytes (and the Range); the URL was signed for this request.
        return HttpResponse(status=307, headers={**API_VERSION, "Location": location, "Docker-Content-Digest": digest, "Cache-Control": "no-store"})
    upstream = await proxy.open_upstream_blob(info, digest, request.method, range_header)
    headers = {**API_VERSION, **{k: v for k, v in upstream.headers.items() if k.lower() in _PASSED_HEADERS}}
    headers.setdefault("Docker-Content-Digest", digest)
    headers["Content-Type"] = BLOB_TYPE
    if head:
        return HttpResponse(b"", status=upstream.status, headers=headers)
    # The blob cache's copy is queued once the body is sent: it would compete with this pull for CPU.
    done = functools.partial(proxy.blob_streamed, info, digest, upstream)
    return StreamingHttpResponse(_stream(upstream, done), status=upstream.status, headers=headers)


@registry_endpoint("NAME")
async def tags(request: HttpRequest, token: str, name: str) -> HttpResponse:
    """Only the tag the token grants: other tags of the repository are not pullable with it."""
    info = await _token(request, token, name)
    granted = [] if info.reference.startswith("sha256:") else [info.reference]
    return JsonResponse({"name": f"wt/{token}/{name}", "tags": granted}, headers=API_VERSION)
