"""What the OpenAPI schema (/openapi.json) says beyond each view's own `extend_schema`: the error
responses every app shares, the 429 with its `Retry-After` header, and the path parameters' words.
drf-spectacular has no way to declare a response header, hence the postprocessing hook."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

from .api import MessageSerializer


def error(description: str) -> OpenApiResponse:
    """A 4xx/5xx answer: always `{"message": ...}`, the message naming the offending value."""
    return OpenApiResponse(MessageSerializer, description=description)


BAD_REQUEST = error("The request is invalid: the message names the offending attribute and value.")
UNAUTHORIZED = error("The access token (towerAccessToken or 'Authorization: Bearer') is unknown, revoked or refused.")
FORBIDDEN = error("The caller may not see this (e.g. a build owned by another organisation).")
NOT_FOUND = error("Nothing with this id or token.")
RATE_LIMITED = error(
    "Too many requests from this user or client address: the message names the limit, the Retry-After header "
    "says in how many seconds to try again."
)

RETRY_AFTER = {
    "description": "Seconds to wait before the next request will be accepted.",
    "schema": {"type": "integer", "minimum": 1},
    "required": True,
}

# Path parameters named by the routers' lookup_url_kwarg; drf-spectacular cannot find words for them.
PATH_PARAMETERS = {
    "build_id": "The build's id, e.g. 6c084f2e43f86a78_1 (the buildId of a container request).",
    "request_id": "The container request's id (its requestId), e.g. 732b73aa17c8.",
    "token": "The container token (containerToken), e.g. 732b73aa17c8.",
    "mirror_id": "The mirror's id (the mirrorId of a mirror request).",
}


def describe(result: dict, generator, request, public: bool) -> dict:
    """POSTPROCESSING_HOOKS: a Retry-After header on every 429, words for every path parameter."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if "429" in operation.get("responses", {}):
                operation["responses"]["429"].setdefault("headers", {})["Retry-After"] = RETRY_AFTER
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and not parameter.get("description"):
                    parameter["description"] = PATH_PARAMETERS.get(parameter["name"], "")
    return result
