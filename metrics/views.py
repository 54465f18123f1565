"""`GET /v1alpha2/metrics/{builds,pulls,fusion/pulls}` with HTTP Basic auth or an API token (metrics/auth.py),
shapes as in the reference."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ViewSet

from accounts.authentication import ApiTokenAuthentication
from wave_site.errors import InvalidRequest
from wave_site.openapi import BAD_REQUEST, FORBIDDEN, RATE_LIMITED, error

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


METRIC_RESPONSE = inline_serializer("Metric", {
    "metric": serializers.CharField(help_text="builds, pulls or fusion (absent when both date and org are given)."),
    "count": serializers.IntegerField(help_text="The number of builds or pulls counted."),
    "orgs": serializers.DictField(
        child=serializers.IntegerField(),
        help_text="The count per organisation (email domain), e.g. {\"seqera.io\": 13} (absent when both date and org are given).",
    ),
})


def _metric_examples(metric: str, count: int, orgs: dict[str, int]) -> list[OpenApiExample]:
    """The reference's examples of one metric: all time, and for one org and date."""
    return [
        OpenApiExample(f"All {metric}", response_only=True, value={"metric": metric, "count": count, "orgs": orgs}),
        OpenApiExample(f"{metric} for one org on one date", response_only=True, value={"count": 4}),
    ]


CREDENTIALS = error("No or wrong HTTP Basic credentials (the WWW-Authenticate header names the realm).")


def metric_schema(metric: str, count: int, orgs: dict[str, int]):
    return extend_schema(
        parameters=[
            OpenApiParameter("date", str, description="Format: yyyy-mm-dd, the date of the required metrics, e.g. 2024-04-08."),
            OpenApiParameter("org", str, description="Domain of the organization used in emails, e.g. seqera.io."),
        ],
        responses={
            200: METRIC_RESPONSE, 400: BAD_REQUEST, 401: CREDENTIALS,
            403: error("Not a metrics reader; or an org manager asking for another org than theirs (the message names it)."),
            429: RATE_LIMITED,
        },
        examples=_metric_examples(metric, count, orgs),
        summary="Usage counts, all time or for a date, for every org or one (HTTP Basic auth, or an org manager's API token)",
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

    @metric_schema("builds", 18, {"seqera.io": 13, "gmail.com": 5})
    @action(detail=False, name="Build Metrics")
    def builds(self, request: Request) -> Response:
        return _counts(request, "builds")

    @metric_schema("pulls", 11, {"seqera.io": 7, "gmail.com": 4})
    @action(detail=False, name="Pull Metrics")
    def pulls(self, request: Request) -> Response:
        return _counts(request, "pulls")

    @metric_schema("fusion", 2, {"seqera.io": 1, "gmail.com": 1})
    @action(detail=False, url_path="fusion/pulls", name="Fusion Pull Metrics")
    def fusion_pulls(self, request: Request) -> Response:
        return _counts(request, "fusion")


class PullEventSerializer(serializers.ModelSerializer):
    user = serializers.CharField(
        source="user.username", default=None,
        help_text="The user who pulled, null for an anonymous pull.",
    )
    ipAddress = serializers.IPAddressField(source="ip_address", help_text="The client address of the pull.")
    creationTime = serializers.DateTimeField(source="created_at", help_text="When the pull happened (ISO-8601).")

    class Meta:
        model = PullEvent
        fields = ["id", "token", "user", "org", "image", "digest", "platform", "fusion", "ipAddress", "creationTime"]
        extra_kwargs = {
            "id": {"help_text": "The pull record's id."},
            "token": {"help_text": "The container token pulled."},
            "org": {"help_text": "The puller's organisation (email domain), empty for an anonymous pull."},
            "image": {"help_text": "The image pulled (its name through this service)."},
            "digest": {"help_text": "The manifest digest served."},
            "platform": {"help_text": "The platform pulled, e.g. linux/amd64."},
            "fusion": {"help_text": "Whether the pull was by a Fusion-enabled container."},
        }


class PullEventPages(CursorPagination):
    """Newest first; a cursor, not a page number, so that a page costs the same deep in a big table."""

    ordering = ("-created_at", "-id")
    page_size = 100
    page_size_query_param = "size"
    max_page_size = 1000

    def get_paginated_response_schema(self, schema: dict) -> dict:
        words = {"next": "The next (older) page's URL, null on the last page.",
                 "previous": "The previous (newer) page's URL, null on the first page.",
                 "results": "The pull records of this page, newest first."}
        paginated = super().get_paginated_response_schema(schema)
        for name, description in words.items():
            paginated["properties"][name]["description"] = description
        return paginated


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
        responses={200: PullEventSerializer(many=True), 401: error("No or an unknown API token."), 403: FORBIDDEN},
        summary="Pull records, newest first (staff only); `next` and `previous` are the neighbouring pages",
    )
    def list(self, request: Request) -> Response:
        return super().list(request)
