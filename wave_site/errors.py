"""One shape for every API error: JSON `{"message": ...}` with the right status; people's pages get
the same errors as HTML pages in the site's layout (split by path, `is_page`)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import Resolver404
from django.utils.html import escape
from rest_framework import exceptions, status
from rest_framework.response import Response

from wave_site.storage import Unreachable

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal by a service, its message shown to the client as it is. Services raise these (no
    HTTP in them); api_exception_handler is the one place that turns them into responses, and the
    HTML pages show their message."""

    status = 400

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidRequest(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"Retry-After": str(retry_after)})


class Unsupported(DomainError):
    status = 501


class BadGateway(DomainError):
    status = 502


class Unavailable(DomainError):
    status = 503


def _first_error(detail: object, path: str = "") -> tuple[str, str]:
    """The first (attribute path, message) in a DRF error detail tree."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                return _first_error(value, path)
            index = f"[{key}]" if isinstance(key, int) or str(key).isdigit() else (f".{key}" if path else str(key))
            return _first_error(value, path + index)
    if isinstance(detail, list) and detail:
        for i, value in enumerate(detail):
            if value:  # ListField errors are keyed by position; empty entries were valid
                return _first_error(value, path if not isinstance(value, (dict, list)) else f"{path}[{i}]")
    return path, str(detail)


def validation_message(detail: object) -> str:
    path, message = _first_error(detail)
    if not path or f"'{path.split('.')[-1].split('[')[0]}'" in message or message.startswith(path):
        return message
    if message == "This field may not be null.":
        return f"Attribute '{path}' must not be null"
    return f"Invalid value for attribute '{path}': {message}"


def body_too_big(meta: dict) -> str:
    """Django refused a body over DATA_UPLOAD_MAX_MEMORY_SIZE (set from WAVE_MAX_BODY_SIZE)."""
    return (
        f"The request body is {meta.get('CONTENT_LENGTH') or 'more than the limit of'} bytes; "
        f"at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes are accepted (WAVE_MAX_BODY_SIZE)"
    )


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        return Response({"message": body_too_big(context["request"].META)}, status=413)
    if isinstance(exc, DomainError):
        return Response({"message": exc.message}, status=exc.status, headers=exc.headers)
    if isinstance(exc, Unreachable):  # the service's own object store, down: not the client's fault, nor a bug
        return Response({"message": f"Unavailable: {exc}"}, status=503)
    if isinstance(exc, exceptions.ValidationError):
        return Response({"message": validation_message(exc.detail)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ParseError):
        return Response({"message": f"Malformed JSON request body: {exc.detail}"}, status=400)
    if isinstance(exc, exceptions.APIException):
        headers = dict(getattr(exc, "headers", {}) or {})
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response({"message": str(exc.detail)}, status=exc.status_code, headers=headers)
    return None


PAGE_PREFIXES = ("/view/", "/admin/", "/accounts/")


def is_page(request) -> bool:
    """Errors are split by path: people's pages get HTML, everything else (the API, /v2/, /metrics,
    /service-info, /openapi.json) keeps its JSON byte for byte."""
    return request.path == "/" or request.path.startswith(PAGE_PREFIXES)


def _sentence(exception: Exception | None) -> str:
    """The words a view raised Http404 or PermissionDenied with, if it gave any."""
    args = getattr(exception, "args", ())
    return args[0] if args and isinstance(args[0], str) else ""


def not_found(request, exception=None) -> HttpResponse:
    """Django's handler404: a page in the site's layout for people, the API's JSON for programs."""
    if not is_page(request):
        return JsonResponse({"message": f"Not found: {request.path}"}, status=404)
    # A view's own Http404("No build x") names what is missing; the resolver's carries its URL patterns.
    reason = "" if isinstance(exception, Resolver404) else _sentence(exception)
    return render(request, "pages/not_found.html", {"path": request.path, "reason": reason}, status=404)


def forbidden(request, exception=None) -> HttpResponse:
    """Django's handler403 (PermissionDenied outside DRF, which answers its own views' refusals)."""
    message = _sentence(exception) or "You may not see this page."
    if not is_page(request):
        return JsonResponse({"message": message}, status=403)
    return render(request, "pages/forbidden.html", {"message": message}, status=403)


def _page(template: str, context: dict, status: int) -> HttpResponse:
    """An error page rendered without the request: it reads no session or user (so no database), shows
    the signed-out navigation, and cannot call `request.get_host()` on a Host Django refused."""
    return HttpResponse(render_to_string(template, context), status=status)


def _bad_request_sentence(request, exception: Exception | None) -> str:
    """What people are told about a 400 Django raised itself, in their words rather than its settings'."""
    if isinstance(exception, DisallowedHost):
        host = request.META.get("HTTP_HOST", "")
        host = host if len(host) <= 100 else host[:100] + "…"
        return f"This service does not answer to the host name '{host}'"
    if isinstance(exception, TooManyFieldsSent):
        n = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return f"The request has more than {n} fields (query parameters and form fields); at most {n} are accepted"
    if isinstance(exception, TooManyFilesSent):
        n = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return f"The form sends more than {n} files; at most {n} are accepted"
    return f"Bad request: {exception or 'refused'}"


def bad_request(request, exception=None) -> HttpResponse:
    """Django's handler400 (a bad Host, too many fields, a broken multipart body): a page in the layout
    for people, the API's JSON for programs. A body too big is the JSON 413 on every path, as the
    ASGI guard in front (body_limit.py) answers it before Django for any path."""
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"message": body_too_big(request.META)}, status=413)
    if not is_page(request):
        return JsonResponse({"message": f"Bad request: {exception or 'refused'}"}, status=400)
    context = {"message": _bad_request_sentence(request, exception)}
    if isinstance(exception, DisallowedHost):
        context["server_url"] = settings.WAVE_SERVER_URL  # where the service does answer
    return _page("pages/bad_request.html", context, 400)


# Django's reasons quote the request's Origin or Referer: only their start picks what a person is told.
CSRF_PROBLEMS = (
    (("Origin checking failed", "Referer checking failed"), "It was sent from a page that is not on this site."),
    (("CSRF cookie",), "Your browser did not send this site's CSRF cookie with it, or sent a damaged one."),
)
CSRF_TOKEN_PROBLEM = "Its CSRF token is missing or out of date (signing in or out since the page was loaded changes it)."


def _csrf_problem(reason: str) -> str:
    return next((problem for starts, problem in CSRF_PROBLEMS if reason.startswith(starts)), CSRF_TOKEN_PROBLEM)


def csrf_failure(request, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form posted without its token, with a stale one, without the cookie, or from
    another site. Other paths get JSON; DRF checks the views that take a session itself, with its own 403."""
    problem = _csrf_problem(reason)
    if not is_page(request):
        return JsonResponse({"message": f"CSRF verification failed. {problem}"}, status=403)
    return _page("pages/csrf_failure.html", {"problem": problem}, 403)


def internal_error_message() -> str:
    """What a client is told about our own bug: the id that finds its logged traceback."""
    from wave_site.observability import request_id

    return f"Internal error, request id {request_id.get()}"


def server_error(request) -> HttpResponse:
    """Django's handler500: it runs after the traceback was logged (logger `django.request`)."""
    message = internal_error_message()
    if not is_page(request):
        return JsonResponse({"message": message}, status=500)
    try:
        # No request in the context: its user and session may be what failed (the database down);
        # the page shows the signed-out navigation and only the request id, never the exception.
        return HttpResponse(render_to_string("pages/server_error.html", {"message": message}), status=500)
    except Exception:  # the layout itself failed: the bare page still names the request id
        log.exception("the 500 page could not be rendered")
        return HttpResponse(f"<!doctype html><title>Internal error</title><h1>{escape(message)}</h1>", status=500)
