"""Asking a Seqera Platform who holds an access token, as Wave's `TowerClient` does.

`GET {endpoint}/user-info` with `Authorization: Bearer <token>` answers `{"user": {"id", "userName",
"email", ...}}`; `GET {endpoint}/user/{id}/workspaces` lists `{"orgsAndWorkspaces": [{"workspaceId",
"workspaceName", "orgName", ...}]}`. Calls go through the service's SSRF guard, follow no redirect (Wave's
connector never redirects either) and read at most `MAX_ANSWER` bytes. The token is never logged and
never part of an exception's message.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings

from oci.errors import OciError
from oci.netguard import AddressPolicy, guarded_transport

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1  # ids are stored as bigint
MAX_ANSWER = 64 * 1024  # bytes; a user-info or workspace list is a few hundred
# What an HTTP header can carry: a token with a newline or a space would split or bend the header.
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{1,4096}")


class PlatformRefused(Exception):
    """The Platform answered that the token is not valid (401, 403, or no user in its answer)."""

    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


class PlatformUnavailable(Exception):
    """The Platform could not be asked (`status` 503) or answered something unusable (502)."""

    def __init__(self, reason: str, status: int):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class PlatformUser:
    id: int
    user_name: str
    email: str


async def _get_json(url: str, token: str) -> object:
    transport = guarded_transport(AddressPolicy(settings.WAVE_SSRF_ALLOWLIST))
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    async with httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=settings.WAVE_PLATFORM_TIMEOUT) as client:
        async with client.stream("GET", url, headers=headers) as response:
            log.info("Seqera Platform call GET %s: HTTP %s", url, response.status_code)
            if response.status_code in (401, 403):
                raise PlatformRefused(response.status_code)
            if response.status_code != 200:
                hint = " (redirects are not followed)" if response.is_redirect else ""
                raise PlatformUnavailable(f"it answered HTTP {response.status_code} to GET {url}{hint}", 502)
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER:
                    raise PlatformUnavailable(f"its answer to GET {url} is larger than {MAX_ANSWER} bytes", 502)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # nesting deeper than the parser goes is no answer either
        raise PlatformUnavailable(f"its answer to GET {url} is not JSON", 502) from None


def get_json(url: str, token: str) -> object:
    try:
        return async_to_sync(_get_json)(url, token)
    except httpx.TimeoutException:
        raise PlatformUnavailable(f"GET {url} timed out after {settings.WAVE_PLATFORM_TIMEOUT:g} s", 503) from None
    except (httpx.HTTPError, OciError) as exc:  # the guard's refusals are OciErrors
        raise PlatformUnavailable(f"GET {url} failed: {exc}", 503) from None


def user_info(endpoint: str, token: str) -> PlatformUser:
    """The Platform user holding `token`. Wave: no `user` in the answer means an invalid token."""
    url = f"{endpoint}/user-info"
    answer = get_json(url, token)
    user = answer.get("user") if isinstance(answer, dict) else None
    if user is None:
        raise PlatformRefused(200)
    if not isinstance(user, dict):
        raise PlatformUnavailable(f"its answer to GET {url} has no user object", 502)
    uid, name, email = user.get("id"), user.get("userName"), user.get("email")
    valid_id = type(uid) is int and 0 <= uid <= MAX_ID
    if not valid_id or not isinstance(name, str) or not isinstance(email, (str, type(None))):
        raise PlatformUnavailable(f"its answer to GET {url} has no valid user id and userName", 502)
    return PlatformUser(uid, name, email or "")


def workspaces(endpoint: str, token: str, user_id: int) -> dict[str, str]:
    """The workspaces the Platform lists for the user: their ids (as strings, the keys JSON keeps)
    with "<org> / <workspace>" names."""
    url = f"{endpoint}/user/{user_id}/workspaces"
    answer = get_json(url, token)
    entries = answer.get("orgsAndWorkspaces") if isinstance(answer, dict) else None
    if not isinstance(entries, list):
        raise PlatformUnavailable(f"its answer to GET {url} has no orgsAndWorkspaces list", 502)
    found = {}
    for entry in entries:
        if isinstance(entry, dict) and type(entry.get("workspaceId")) is int and 0 <= entry["workspaceId"] <= MAX_ID:
            found[str(entry["workspaceId"])] = f"{entry.get('orgName') or ''} / {entry.get('workspaceName') or ''}"
    return found
