from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ViewSet

from accounts.authentication import ApiTokenAuthentication
from wave_site.openapi import FORBIDDEN, NOT_FOUND, error
from wave_site.errors import Forbidden, InvalidRequest, NotFound

from .models import Build, without_large_fields
from .reconcile import as_read
from .visibility import sees_build_private


class BuildStatusSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The build's id, e.g. 6c084f2e43f86a78_1.")
    status = serializers.ChoiceField(choices=["PENDING", "COMPLETED"], help_text="Status can only be PENDING or COMPLETED.")
    startTime = serializers.DateTimeField(allow_null=True, help_text="When the build started (ISO-8601), null before it starts.")
    duration = serializers.FloatField(allow_null=True, help_text="seconds")
    succeeded = serializers.BooleanField(required=False, help_text="Whether the build succeeded (once COMPLETED).")
    reason = serializers.CharField(required=False, help_text="Not in the reference: why a pending build waits")


class BuildRecordSerializer(serializers.Serializer):
    buildId = serializers.CharField(source="id", help_text="The build's id, e.g. 6c084f2e43f86a78_1.")
    status = serializers.SerializerMethodField(help_text="PENDING or COMPLETED.")
    succeeded = serializers.BooleanField(allow_null=True, help_text="Whether the build succeeded; null while PENDING.")
    targetImage = serializers.CharField(
        source="target_image",
        help_text="The image the build pushes, e.g. localhost:5000/wave/build:salmon--6c084f2e43f86a78.",
    )
    digest = serializers.CharField(help_text="The pushed image's manifest digest (empty until it is pushed).")
    platform = serializers.CharField(help_text="The platform built for, e.g. linux/amd64.")
    format = serializers.CharField(help_text="docker or sif.")
    freeze = serializers.BooleanField(help_text="Whether the image is frozen into the user's buildRepository.")
    buildRepository = serializers.CharField(source="build_repository", help_text="The repository the image is pushed to.")
    cacheRepository = serializers.CharField(source="cache_repository", help_text="The repository of the build's layer cache.")
    containerFile = serializers.CharField(
        source="container_file",
        help_text="The build's recipe (Dockerfile, or the conda plan); only for the owner's org and operators.",
    )
    condaFile = serializers.CharField(
        source="conda_file",
        help_text="The conda environment built; only for the owner's org and operators.",
    )
    creationTime = serializers.DateTimeField(source="created_at", help_text="When the build was requested (ISO-8601).")
    startTime = serializers.DateTimeField(
        source="started_at", allow_null=True,
        help_text="When the build started (ISO-8601), null before it starts.",
    )
    duration = serializers.FloatField(allow_null=True, help_text="The build's duration in seconds, null until it completes.")
    exitStatus = serializers.IntegerField(
        source="exit_status", allow_null=True,
        help_text="The builder's exit status, null until it completes.",
    )
    reason = serializers.CharField(
        help_text="Why the build failed (e.g. a conda channel unreachable, or an environment that cannot be solved), or why it waits.",
    )
    org = serializers.CharField(
        help_text="The requester's organisation (their email domain); only for the owner's org and operators.",
    )

    def get_status(self, build: Build) -> str:
        return build.api_status


def get_build(build_id: str, *fields: str) -> Build:
    """The build, loading of its large fields only `fields`."""
    build = as_read(Build.objects.defer(*(f for f in without_large_fields() if f not in fields)).filter(pk=build_id).first())
    if build is None:
        raise NotFound(f"Unknown build id '{build_id}'")
    return build


def build_status(build: Build) -> dict:
    body = {
        "id": build.id,
        "status": build.api_status,
        "startTime": build.started_at,
        "duration": build.duration,
    }
    if build.completed:
        body["succeeded"] = bool(build.succeeded)
    elif build.reason:  # e.g. that no worker is alive to run it
        body["reason"] = build.reason
    return body


PRIVATE_FIELDS = ("containerFile", "condaFile", "org")


def _private(request: Request, build: Build, what: str) -> None:
    """Refuse a build's private side (builds/visibility.py) to whoever may not read it."""
    if not sees_build_private(request.user, build):
        raise Forbidden(
            f"The {what} of build '{build.id}' is shown to its owner's organisation and operators: "
            "send one of their API tokens as 'Authorization: Bearer <token>'",
        )


BAD_TOKEN = error("The bearer token is unknown or revoked.")
STATUS_EXAMPLE = OpenApiExample("A completed build", response_only=True, value={
    "id": "6c084f2e43f86a78_1", "status": "COMPLETED", "startTime": "2024-04-09T20:31:35.355423Z",
    "duration": 123.914989, "succeeded": True,
})
LOG_EXAMPLE = OpenApiExample("A build's log", response_only=True, media_type="text/plain", value=(
    "STEP 1/2: FROM alpine:latest\nSTEP 2/2: RUN echo hello\nhello\nCOMMIT localhost:5000/wave/build:6c084f2e43f86a78\n"
))


# /v1alpha1/builds/{build_id}: a build's record, status, log and conda lock. The status is
# public; the rest authenticates, to show the build's private side to whoever may read it.
class BuildViewSet(ViewSet):
    lookup_url_kwarg = "build_id"
    route_names = {"detail": "Build"}
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]

    @extend_schema(
        responses={200: BuildRecordSerializer, 401: BAD_TOKEN, 404: NOT_FOUND},
        summary="A build record; containerFile, condaFile and org only for the owner's org and operators",
    )
    def retrieve(self, request: Request, build_id: str) -> Response:
        build = get_build(build_id)
        data = BuildRecordSerializer(build).data
        if not sees_build_private(request.user, build):
            for name in PRIVATE_FIELDS:
                data.pop(name)
        return Response(data)

    @extend_schema(responses={200: BuildStatusSerializer, 404: NOT_FOUND}, examples=[STATUS_EXAMPLE], summary="A build's status")
    @action(detail=True, name="Build Status", authentication_classes=[])
    def status(self, request: Request, build_id: str) -> Response:
        return Response(BuildStatusSerializer(build_status(get_build(build_id))).data)

    @extend_schema(
        responses={(200, "text/plain"): OpenApiTypes.STR, 401: BAD_TOKEN, 403: FORBIDDEN, 404: NOT_FOUND},
        examples=[LOG_EXAMPLE],
        summary="A build's log (an owned build's: for its owner's org and operators)",
    )
    @action(detail=True, name="Build Logs")
    def logs(self, request: Request, build_id: str) -> HttpResponse:
        build = get_build(build_id, "log")
        _private(request, build, "log")
        return HttpResponse(build.log, content_type="text/plain; charset=utf-8")

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["explicit", "yaml"], description="@EXPLICIT list (default) or conda-lock YAML")],
        responses={(200, "text/plain"): OpenApiTypes.STR, 400: error("Unknown lock format."), 401: BAD_TOKEN, 403: FORBIDDEN, 404: NOT_FOUND},
        summary="A conda build's lock: every package's URL and checksum (an owned build's: for its owner's org and operators)",
    )
    @action(detail=True, name="Build Conda Lock")
    def condalock(self, request: Request, build_id: str) -> HttpResponse:
        build = get_build(build_id, "condalock", "condalock_yaml")
        _private(request, build, "conda lock")
        if not build.conda_file:
            raise NotFound(f"Build '{build_id}' is not a conda build and has no lock")
        kind = request.query_params.get("format", "explicit")
        if kind not in ("explicit", "yaml"):
            raise InvalidRequest(f"Unknown lock format '{kind}'; use 'explicit' or 'yaml'")
        text = build.condalock_yaml if kind == "yaml" else build.condalock
        return HttpResponse(text, content_type="text/plain; charset=utf-8")
