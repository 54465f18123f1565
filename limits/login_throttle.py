"""Password guessing is throttled per client IP: every failed `authenticate()` (the login page, the
admin's login and the metrics API's Basic auth all go through it) counts against the client, and past
`WAVE_RATE_LIMIT_LOGIN_FAILURES` its every attempt is a 429, the right password included, until the
window ends. A success does not reset the count: one account the guesser owns would otherwise wipe
it between guesses.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import throttle
from .ratelimit import client_ip

# The views that take a password in a POST; the metrics API checks its own (metrics/auth.py).
LOGIN_VIEWS = {"login", "admin:login"}


def check(request: HttpRequest) -> None:
    """Raise RateLimited while this client may not try a password."""
    throttle.check("login_failures", client_ip(request.META))


@receiver(user_login_failed, dispatch_uid="limits.login_throttle")
def count_failure(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    if request is not None:
        throttle.fail("login_failures", client_ip(request.META))


class LoginThrottleMiddleware:
    """A 429 page, with Retry-After, for a login POST from a client past its limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        if request.method != "POST" or request.resolver_match.view_name not in LOGIN_VIEWS:
            return None
        try:
            check(request)
        except throttle.RateLimited as exc:
            response = render(request, "registration/login_throttled.html", {"message": exc.message}, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        return None
