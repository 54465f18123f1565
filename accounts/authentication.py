"""API token auth for endpoints that take the token in a header (`Authorization: Bearer <token>`)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .identity import user_for_token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        user = user_for_token(token.strip())
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid API token: unknown or revoked")
        return user, token

    def authenticate_header(self, request) -> str:
        return "Bearer"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The schema's name for this auth (drf-spectacular warns of an authenticator it cannot name)."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer", "description": (
            "An API token of this service (created on the account page, /view/account/), or a Seqera Platform "
            "access token where the operator allows that Platform, as 'Authorization: Bearer <token>'. The container "
            "request endpoints also take it as towerAccessToken in the body; without one, a request is anonymous."
        )}
