"""One shape for every API error: JSON `{"message": ...}` with the right status."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from rest_framework import exceptions, status
from rest_framework.response import Response

from wave_site.storage import Unreachable


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


def not_found(request, exception=None) -> JsonResponse:
    return JsonResponse({"message": f"Not found: {request.path}"}, status=404)


def bad_request(request, exception=None) -> JsonResponse:
    """Django's own 400s (a body too big for a page or the admin, a bad Host) in the API's shape."""
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"message": body_too_big(request.META)}, status=413)
    return JsonResponse({"message": f"Bad request: {exception or 'refused'}"}, status=400)


PAGE_PREFIXES = ("/view/", "/admin/", "/accounts/")


def internal_error_message() -> str:
    """What a client is told about our own bug: the id that finds its logged traceback."""
    from wave_site.observability import request_id

    return f"Internal error, request id {request_id.get()}"


def server_error(request) -> HttpResponse:
    """Django's handler500: it runs after the traceback was logged (logger `django.request`)."""
    message = internal_error_message()
    if request.path.startswith(PAGE_PREFIXES) or request.path == "/":
        return HttpResponse(f"<!doctype html><title>Internal error</title><h1>{escape(message)}</h1>", status=500)
    return JsonResponse({"message": message}, status=500)
