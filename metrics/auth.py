"""Who may read usage metrics (the metrics API and /metrics): HTTP Basic auth of a user with the
`metrics.view_usage_metrics` permission, password guesses throttled per client (login_throttle); on the
metrics API also an org manager (Basic auth or an API token) for their own org."""

from __future__ import annotations

import base64
import binascii

from django.contrib.auth import authenticate
from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from wave_site.errors import Forbidden, TooManyRequests, Unauthorized

from limits import login_throttle
from limits.ratelimit import RateLimited

PERMISSION = "metrics.view_usage_metrics"


class MetricsBasicAuthentication(BasicAuthentication):
    """DRF's Basic auth, with this API's messages and strictness (base64 as RFC 4648, UTF-8)."""

    www_authenticate_realm = "wave metrics"

    def challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.authenticate_header(None)}

    def authenticate(self, request: Request):
        scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Malformed Basic credentials", headers=self.challenge()) from None
        return self.authenticate_credentials(username, password, request)

    def authenticate_credentials(self, userid: str, password: str, request: Request):
        try:
            login_throttle.check(request)
        except RateLimited as exc:
            raise TooManyRequests(exc.message, retry_after=exc.retry_after) from None
        user = authenticate(request._request, username=userid, password=password)
        if user is None:
            raise Unauthorized("Invalid username or password", headers=self.challenge())
        return user, None


class ReadsUsageMetrics(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        if request.user is None or not request.user.is_authenticated:
            raise Unauthorized("Authentication required: use HTTP Basic auth", headers=MetricsBasicAuthentication().challenge())
        if not request.user.has_perm(PERMISSION):
            raise Forbidden(f"User '{request.user.get_username()}' may not read usage metrics (permission {PERMISSION})")
        return True


class ReadsUsageMetricsOrOwnOrg(ReadsUsageMetrics):
    """The metrics API: a metrics reader for any org, or an org manager for their own (`?org=` theirs);
    /metrics keeps ReadsUsageMetrics, since its series are every org's."""

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated or user.has_perm(PERMISSION) or not (user.is_org_manager and user.org):
            return super().has_permission(request, view)
        asked = (request.query_params.get("org") or "").lower()
        if asked != user.org:
            which = f"of {asked}" if asked else "of every org"
            raise Forbidden(f"User '{user.get_username()}' may not read the usage metrics {which}: only of {user.org} (add ?org={user.org})")
        return True


def check_metrics_reader(request: HttpRequest) -> None:
    """The API's checks, for /metrics (a plain Django view): raises what the API would answer."""
    ReadsUsageMetrics().has_permission(Request(request, authenticators=[MetricsBasicAuthentication()]), None)


class MetricsBasicScheme(OpenApiAuthenticationExtension):
    """The schema's name for this auth (drf-spectacular warns of an authenticator it cannot name)."""

    target_class = MetricsBasicAuthentication
    name = "metricsBasicAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "basic", "description": (
            "Username and password of a user with the metrics.view_usage_metrics permission; failed attempts are "
            "counted per client and answered 429 with Retry-After past WAVE_RATE_LIMIT_LOGIN_FAILURES."
        )}
