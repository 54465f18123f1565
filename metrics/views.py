"""`GET /v1alpha2/metrics/{builds,pulls,fusion/pulls}` with HTTP Basic auth or an API token (metrics/auth.py),
shapes as in the reference."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ViewSet

from accounts.authentication import ApiTokenAuthentication
from wave_site.errors import InvalidRequest

from . import counters
from .auth import MetricsBasicAuthentication, ReadsUsageMetricsOrOwnOrg
from .models import PullEvent


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"Invalid date '{value}': use yyyy-mm-dd, e.g. 2024-04-08") from None


def _counts(request: Request, metric: str) -> Response:
    day = _date(request.query_params.get("date"))
    org = request.query_params.get("org") or None
    return Response(counters.query(metric, day, org.lower() if org else None))


METRIC_RESPONSE = inline_serializer(
    "Metric", {"metric": serializers.CharField(), "count": serializers.IntegerField(), "orgs": serializers.DictField(child=serializers.IntegerField())}
)


METRIC_SCHEMA = extend_schema(
    parameters=[
        OpenApiParameter("date", str, description="yyyy-mm-dd"),
        OpenApiParameter("org", str, description="an email domain, e.g. seqera.io"),
    ],
    responses={200: METRIC_RESPONSE},
    summary="Usage counts, all time or for a date, for every org or one",
)


# /v1alpha2/metrics/{builds,pulls,fusion/pulls}.
class MetricsViewSet(ViewSet):
    # Basic first: its challenge is the 401's WWW-Authenticate. The token is for org managers' scripts.
    authentication_classes = [MetricsBasicAuthentication, ApiTokenAuthentication]
    permission_classes = [ReadsUsageMetricsOrOwnOrg]

    def perform_authentication(self, request: Request) -> None:
        """Lazily, when the permission asks for the user."""

    def check_permissions(self, request: Request) -> None:
        """For reads only: other methods get their 405, and OPTIONS its description, without
        credentials, as before DRF did this API's auth."""
        if request.method in ("GET", "HEAD"):
            super().check_permissions(request)

    @METRIC_SCHEMA
    @action(detail=False, name="Build Metrics")
    def builds(self, request: Request) -> Response:
        return _counts(request, "builds")

    @METRIC_SCHEMA
    @action(detail=False, name="Pull Metrics")
    def pulls(self, request: Request) -> Response:
        return _counts(request, "pulls")

    @METRIC_SCHEMA
    @action(detail=False, url_path="fusion/pulls", name="Fusion Pull Metrics")
    def fusion_pulls(self, request: Request) -> Response:
        return _counts(request, "fusion")


class PullEventSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", default=None)
    ipAddress = serializers.IPAddressField(source="ip_address")
    creationTime = serializers.DateTimeField(source="created_at")

    class Meta:
        model = PullEvent
        fields = ["id", "token", "user", "org", "image", "digest", "platform", "fusion", "ipAddress", "creationTime"]


class PullEventPages(CursorPagination):
    """Newest first; a cursor, not a page number, so that a page costs the same deep in a big table."""

    ordering = ("-created_at", "-id")
    page_size = 100
    page_size_query_param = "size"
    max_page_size = 1000


# GET /v1alpha1/pull-events: every pull recorded, for operators (staff), `?token=` for one request's.
class PullEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    route_names = {"list": "Pull Events"}
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAdminUser]
    serializer_class = PullEventSerializer
    pagination_class = PullEventPages

    def get_queryset(self):
        events = PullEvent.objects.select_related("user")
        token = self.request.query_params.get("token")
        return events.filter(token=token) if token else events

    @extend_schema(
        parameters=[OpenApiParameter("token", str, description="only the pulls of this container token")],
        summary="Pull records, newest first (staff only); `next` and `previous` are the neighbouring pages",
    )
    def list(self, request: Request) -> Response:
        return super().list(request)
