"""Seqera Platform tokens: checked with the Platform that issued them, cached, mapped to local users.

Answers are cached in Redis under a SHA-256 of endpoint and token (never the token itself):
`WAVE_PLATFORM_CACHE_TTL` seconds for a user, `WAVE_PLATFORM_REFUSAL_CACHE_TTL` for a refusal. A
Platform that cannot be reached is not cached: the next request asks again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
import unicodedata
from dataclasses import asdict
from typing import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from wave_site.errors import BadGateway, Forbidden, InvalidRequest, Unauthorized, Unavailable
from wave_site.redis import ERRORS as REDIS_ERRORS
from wave_site.redis import sync_redis, unavailable

from . import platform
from .models import PlatformAccount, PlatformWorkspace, User, Workspace

WHAT_TO_CHANGE = "check TOWER_ACCESS_TOKEN (tower.accessToken), or unset it to use the service anonymously"


def _key(kind: str, endpoint: str, token: str) -> str:
    return f"wave:platform:{kind}:" + hashlib.sha256(f"{endpoint}\n{token}".encode()).hexdigest()


def _cached(key: str, fetch: Callable[[], dict]) -> dict:
    """The cached Platform answer, or a fresh one (a refusal is an answer too, kept for less time)."""
    try:
        raw = sync_redis().get(key)
    except REDIS_ERRORS as exc:
        unavailable("platform_cache", exc)
        raw = None
    if raw is not None:
        return json.loads(raw)
    try:
        answer, ttl = fetch(), settings.WAVE_PLATFORM_CACHE_TTL
    except platform.PlatformRefused as exc:
        answer, ttl = {"refused": exc.status}, settings.WAVE_PLATFORM_REFUSAL_CACHE_TTL
    try:
        sync_redis().set(key, json.dumps(answer), ex=max(1, int(ttl)))
    except REDIS_ERRORS as exc:
        unavailable("platform_cache", exc)
    return answer


def _ask(endpoint: str, kind: str, token: str, fetch: Callable[[], dict]) -> dict:
    try:
        answer = _cached(_key(kind, endpoint, token), fetch)
    except platform.PlatformUnavailable as exc:
        raise (BadGateway if exc.status == 502 else Unavailable)(
            f"The Seqera Platform at {endpoint} could not check the access token: {exc}. Try again later, "
            f"or unset TOWER_ACCESS_TOKEN (tower.accessToken) to use the service anonymously"
        ) from None
    if "refused" in answer:
        status = answer["refused"]
        why = f"HTTP {status}" if status != 200 else "it knows no user for it"
        raise Unauthorized(f"The Seqera Platform at {endpoint} refused the access token ({why}): {WHAT_TO_CHANGE}")
    return answer


def platform_identity(endpoint: str, token: str, workspace_id: int | None) -> tuple[User, Workspace | None]:
    """The local user (and workspace) for a token of the Platform at `endpoint` (a configured one)."""
    if not platform.TOKEN_PATTERN.fullmatch(token):
        raise InvalidRequest(
            "Invalid towerAccessToken: a token is printable ASCII without spaces or line breaks, "
            f"at most 4096 characters; {WHAT_TO_CHANGE}"
        )
    answer = _ask(endpoint, "user", token, lambda: {"user": asdict(platform.user_info(endpoint, token))})
    found = platform.PlatformUser(**answer["user"])
    user = local_user(endpoint, found)
    if not user.is_active:
        raise Forbidden(
            f"The account '{user.username}' of Seqera Platform user #{found.id} at {endpoint} is disabled on this "
            "service; ask its operators",
        )
    if workspace_id is None:
        return user, None
    listed = _ask(endpoint, "workspaces", token, lambda: {"workspaces": platform.workspaces(endpoint, token, found.id)})
    name = listed["workspaces"].get(str(workspace_id))
    if name is None:
        raise Forbidden(
            f"towerWorkspaceId '{workspace_id}' is not one of your workspaces at the Seqera Platform {endpoint}",
        )
    workspace = local_workspace(endpoint, workspace_id, name)
    workspace.members.add(user)  # idempotent: Django inserts with ON CONFLICT DO NOTHING
    return user, workspace


def _username_base(user_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", user_name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip(".-_")[:100] or "platform-user"


def _email(email: str) -> str:
    """The Platform's email when it is one address (its domain is the user's org), else none."""
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email if len(email) <= 254 else ""


def local_user(endpoint: str, found: platform.PlatformUser) -> User:
    """The user linked to the Platform user, made on first sight. A username someone else has (a
    local `admin`, another Platform's `alice`) gets the Platform id, then a random suffix, appended."""
    account = PlatformAccount.objects.select_related("user").filter(endpoint=endpoint, platform_user_id=found.id).first()
    if account is not None:
        return _refreshed(account, found)
    base = _username_base(found.user_name)
    names = itertools.chain([base, f"{base}-{found.id}"], (f"{base}-{secrets.token_hex(4)}" for _ in itertools.count()))
    for username in names:
        try:
            with transaction.atomic():
                user = User(username=username, email=_email(found.email))
                user.set_unusable_password()
                user.save()
                PlatformAccount.objects.create(
                    user=user, endpoint=endpoint, platform_user_id=found.id, platform_user_name=found.user_name[:255]
                )
                return user
        except IntegrityError:  # the username is taken, or a simultaneous request linked this Platform user
            account = PlatformAccount.objects.select_related("user").filter(endpoint=endpoint, platform_user_id=found.id).first()
            if account is not None:
                return account.user


def _refreshed(account: PlatformAccount, found: platform.PlatformUser) -> User:
    """The Platform's user name and email are its to change; the org follows the email."""
    user, email = account.user, _email(found.email)
    if user.email != email:
        User.objects.filter(pk=user.pk).update(email=email)
        user.email = email
    if account.platform_user_name != found.user_name[:255]:
        PlatformAccount.objects.filter(pk=account.pk).update(platform_user_name=found.user_name[:255])
    return user


def local_workspace(endpoint: str, workspace_id: int, name: str) -> Workspace:
    links = PlatformWorkspace.objects.select_related("workspace").filter(endpoint=endpoint, platform_workspace_id=workspace_id)
    link = links.first()
    if link is not None:
        return link.workspace
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(name=name[:100])
            PlatformWorkspace.objects.create(workspace=workspace, endpoint=endpoint, platform_workspace_id=workspace_id)
            return workspace
    except IntegrityError:  # a simultaneous request made it
        return links.get().workspace
