from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ViewSet

from accounts.authentication import ApiTokenAuthentication
from accounts.identity import Identity, request_token
from limits.ratelimit import client_ip
from builds.models import without_large_fields
from builds.request_spec import ContainerRequestSpec
from builds.reconcile import as_read
from oci.errors import OciError
from oci.platform import parse_platform
from wave_site.api import MessageSerializer
from wave_site.openapi import BAD_REQUEST, FORBIDDEN, NOT_FOUND, RATE_LIMITED, UNAUTHORIZED
from wave_site.errors import InvalidRequest, NotFound, Unavailable
from wave_site.redis import ERRORS as REDIS_ERRORS

from .describe import describe, status
from .inspect import inspect_image
from . import examples
from .models import ContainerRequest
from .serializers import (
    ContainerRequestSerializer,
    ContainerResponseSerializer,
    ContainerStatusSerializer,
    InspectRequestSerializer,
)
from .services import Caller, request_container
from .token_guard import check_token_misses, count_token_miss, guarded_identify
from .tokens import revoke

ERRORS = {400: BAD_REQUEST, 401: UNAUTHORIZED, 404: NOT_FOUND, 429: RATE_LIMITED}
# Lookups by token or id: unknown ones are counted per client and throttled (token_guard.py).
LOOKUP_ERRORS = {404: NOT_FOUND, 429: RATE_LIMITED}
# The caller's token, optional: in the body (towerAccessToken) or as 'Authorization: Bearer'.
OPTIONAL_TOKEN = [{"apiToken": []}, {}]


def _identity(request: Request, access_token: str | None, endpoint: str | None, workspace_id: int | None) -> Identity:
    token = request_token(access_token, request.headers.get("Authorization", ""))
    return guarded_identify(token, endpoint, workspace_id, client_ip(request.META))


def _caller(request: Request, spec: ContainerRequestSpec, endpoint: str) -> Caller:
    identity = _identity(request, spec.tower_access_token, spec.tower_endpoint, spec.tower_workspace_id)
    return Caller(identity, client_ip(request.META), request.headers.get("User-Agent", ""), endpoint)


def _live_request(token: str, ip: str | None) -> ContainerRequest:
    check_token_misses(ip)
    request = ContainerRequest.objects.select_related("build", "user").defer(*without_large_fields("build__")).filter(token=token).first()
    if request is not None:
        as_read(request.build)
    if request is None or request.revoked_at is not None:
        count_token_miss(ip)
        raise NotFound(f"Unknown container token '{token}'")
    return request


DESCRIBE = inline_serializer("ContainerDescription", {
    "token": serializers.CharField(help_text="The container token (or request id)."),
    "request": serializers.DictField(help_text="The request as it was made and answered: image, build, expiry, user."),
})


# Requesting a container (`create`); the two request endpoints differ in `legacy` and `endpoint`.
class ContainerRequests(ViewSet):
    legacy = False
    endpoint = "/v1alpha2/container"

    def create(self, request: Request) -> Response:
        bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
        serializer = ContainerRequestSerializer(data=request.data, context={"legacy": self.legacy, "bearer": bearer})
        serializer.is_valid(raise_exception=True)
        spec = serializer.to_spec()
        body = request_container(_caller(request, spec, self.endpoint), spec)
        return Response(ContainerResponseSerializer(body).data)


# /v1alpha2/container: a request, its record and its status by request id.
class ContainerViewSet(ContainerRequests):
    lookup_url_kwarg = "request_id"
    route_names = {"list": "Container Request", "detail": "Container Detail"}

    @extend_schema(
        request=ContainerRequestSerializer,
        responses={200: ContainerResponseSerializer, **ERRORS},
        auth=OPTIONAL_TOKEN,
        examples=examples.CONTAINER_REQUEST,
        summary="Request a container: an existing image, augmented, or built from a Dockerfile or conda packages",
        description="Rate limited per user (or client address when anonymous): builds per hour and pulls per minute.",
    )
    def create(self, request: Request) -> Response:
        return super().create(request)

    @extend_schema(responses={200: DESCRIBE, **LOOKUP_ERRORS}, summary="A container request")
    def retrieve(self, request: Request, request_id: str) -> Response:
        return Response(describe(_live_request(request_id, client_ip(request.META))))

    @extend_schema(responses={200: ContainerStatusSerializer, **LOOKUP_ERRORS}, summary="A container request's status")
    @action(detail=True, name="Container Status")
    def status(self, request: Request, request_id: str) -> Response:
        return Response(ContainerStatusSerializer(status(_live_request(request_id, client_ip(request.META)))).data)


# POST /container-token, the deprecated form of a request.
class LegacyContainerTokenViewSet(ContainerRequests):
    route_names = {"list": "Legacy Container Token"}
    legacy = True
    endpoint = "/container-token"

    @extend_schema(
        request=ContainerRequestSerializer,
        responses={200: ContainerResponseSerializer, **ERRORS},
        auth=OPTIONAL_TOKEN,
        examples=examples.CONTAINER_TOKEN,
        summary="Deprecated form of /v1alpha2/container: takes condaFile, rejects packages and nameStrategy",
        deprecated=True,
    )
    def create(self, request: Request) -> Response:
        return super().create(request)


# /container-token/{token}: a request by its token, and its revocation (staff only).
class ContainerTokenViewSet(ViewSet):
    lookup_url_kwarg = "token"
    route_names = {"detail": "Container Token"}
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]

    def get_permissions(self):
        return [permissions.IsAdminUser()] if self.request.method == "DELETE" else []

    @extend_schema(responses={200: DESCRIBE, **LOOKUP_ERRORS}, summary="Describe a container request")
    def retrieve(self, request: Request, token: str) -> Response:
        return Response(describe(_live_request(token, client_ip(request.META))))

    @extend_schema(
        responses={
            200: MessageSerializer, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND,
            503: OpenApiResponse(MessageSerializer, description="Redis is unavailable: nothing was revoked."),
        },
        summary="Revoke a container token (staff only); later pulls of its image get 404; 503 while Redis is away",
    )
    def destroy(self, request: Request, token: str) -> Response:
        try:
            revoked = revoke(ContainerRequest.objects.filter(token=token))
        except REDIS_ERRORS:
            raise Unavailable(f"Container token '{token}' was not revoked: Redis is unavailable; try again") from None
        if not revoked:
            raise NotFound(f"Unknown container token '{token}'")
        return Response({"message": f"Container token '{token}' revoked"})


# POST /v1alpha1/inspect.
class InspectViewSet(ViewSet):
    route_names = {"list": "Inspect"}

    @extend_schema(
        request=InspectRequestSerializer,
        parameters=[OpenApiParameter("platform", str, description="e.g. linux/arm64: pick that image from an index")],
        responses={200: inline_serializer("Inspect", {"container": serializers.DictField(
            help_text="The image: registry, hostName, imageName, reference, digest, its config and manifest "
            "(as in the OCI image spec), and whether it is v1, v2 (Docker) or oci.",
        )}), **ERRORS},
        auth=OPTIONAL_TOKEN,
        examples=examples.INSPECT,
        summary="An image's manifest and config",
    )
    def create(self, request: Request) -> Response:
        serializer = InspectRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attrs = serializer.validated_data
        platform = None
        if request.query_params.get("platform"):
            try:
                platform = parse_platform(request.query_params["platform"])
            except OciError as exc:
                raise InvalidRequest(str(exc)) from None
        identity = _identity(request, attrs.get("towerAccessToken"), attrs.get("towerEndpoint"), attrs.get("towerWorkspaceId"))
        return Response(inspect_image(identity, attrs["containerImage"], platform))
