"""`GET /v1alpha2/metrics/{builds,pulls,fusion/pulls}` with HTTP Basic auth, shapes as in the reference."""

from __future__ import annotations

import base64
import binascii
from datetime import date

from django.contrib.auth import authenticate
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from limits import login_throttle
from limits.ratelimit import RateLimited
from wave_site.errors import ApiError

from . import counters

PERMISSION = "metrics.view_usage_metrics"
CHALLENGE = {"WWW-Authenticate": 'Basic realm="wave metrics"'}


def basic_auth_user(request: HttpRequest):
    """The user of a Basic `Authorization` header who may read usage metrics; ApiError 401/403 otherwise."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise ApiError("Authentication required: use HTTP Basic auth", status=401, headers=CHALLENGE)
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("Malformed Basic credentials", status=401, headers=CHALLENGE) from None
    try:
        login_throttle.check(request)
    except RateLimited as exc:
        raise ApiError(exc.message, status=429, headers={"Retry-After": str(exc.retry_after)}) from None
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise ApiError("Invalid username or password", status=401, headers=CHALLENGE)
    if not user.has_perm(PERMISSION):
        raise ApiError(f"User '{username}' may not read usage metrics (permission {PERMISSION})", status=403)
    return user


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(f"Invalid date '{value}': use yyyy-mm-dd, e.g. 2024-04-08") from None


METRIC_RESPONSE = inline_serializer(
    "Metric", {"metric": serializers.CharField(), "count": serializers.IntegerField(), "orgs": serializers.DictField(child=serializers.IntegerField())}
)


class MetricView(APIView):
    metric = ""

    @extend_schema(
        parameters=[
            OpenApiParameter("date", str, description="yyyy-mm-dd"),
            OpenApiParameter("org", str, description="an email domain, e.g. seqera.io"),
        ],
        responses={200: METRIC_RESPONSE},
        summary="Usage counts, all time or for a date, for every org or one",
    )
    def get(self, request: Request) -> Response:
        basic_auth_user(request._request)
        day = _date(request.query_params.get("date"))
        org = request.query_params.get("org") or None
        return Response(counters.query(self.metric, day, org.lower() if org else None))


class BuildMetricsView(MetricView):
    metric = "builds"


class PullMetricsView(MetricView):
    metric = "pulls"


class FusionPullMetricsView(MetricView):
    metric = "fusion"
