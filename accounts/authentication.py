"""API token auth for endpoints that take the token in a header (`Authorization: Bearer <token>`)."""

from __future__ import annotations

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
