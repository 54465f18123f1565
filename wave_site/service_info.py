from __future__ import annotations

import functools
import subprocess

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wave_site import __version__

# The Wave API level this service answers, in the field the clients read (`serviceInfo.version`):
# wave-cli's `--info` compares it as a semver with the 1.31.0 it requires; both clients were built
# against wave-api 1.31.x. The service's own version is `serviceVersion`.
WAVE_API_VERSION = "1.31.2"


@functools.cache
def commit_id() -> str:
    """The git commit of the running code: WAVE_COMMIT_ID when set (images without .git), else git."""
    if settings.WAVE_COMMIT_ID:
        return settings.WAVE_COMMIT_ID
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


class ServiceInfoView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "ServiceInfo",
            {"serviceInfo": inline_serializer("ServiceInfoBody", {
                "version": serializers.CharField(help_text="the Wave API level implemented"),
                "commitId": serializers.CharField(help_text="the git commit of the running code"),
                "serviceVersion": serializers.CharField(help_text="this service's own version"),
            }, help_text="Basic information about the service.")},
        ),
        summary="The Wave API level implemented, the service's version and commit",
        examples=[OpenApiExample(
            "Service info", response_only=True,
            value={"serviceInfo": {"version": "1.31.2", "commitId": "0123abcd45", "serviceVersion": "0.1.0"}},
        )],
    )
    def get(self, request: Request) -> Response:
        return Response({"serviceInfo": {"version": WAVE_API_VERSION, "commitId": commit_id(), "serviceVersion": __version__}})
