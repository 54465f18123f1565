"""Seqera Platform tokens: checked with the Platform's user-info call (a fake Platform on loopback),
cached, mapped to local users and workspaces; every way the Platform or the caller can misbehave."""

from __future__ import annotations

import threading

import httpx
import pytest
import redis
from django.db import connections
from rest_framework.test import APIClient

from accounts import platform_identity
from accounts.identity import _configured
from accounts.models import PlatformAccount, PlatformWorkspace, User, Workspace
from containers.models import ContainerRequest
from tests.support.bodies import client_body
from tests.support.factories import UserFactory, api_token
from tests.support.fake_platform import trust
from tests.support.helpers import free_port, post, wait_until
from tests.support.servers import start_server, stop_server
from wave_site.redis import sync_redis


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cached_platform_answers():
    for key in platform_keys():
        sync_redis().delete(key)


def request(api, busybox, platform, token, **extra):
    body = {"containerImage": busybox, "towerEndpoint": platform.url, "towerAccessToken": token, **extra}
    return post(api, "/v1alpha2/container", body)


def user_of(response) -> User:
    assert response.status_code == 200, response.json()
    return ContainerRequest.objects.select_related("user").get(token=response.json()["containerToken"]).user


def platform_keys() -> list[bytes]:
    return list(sync_redis().scan_iter("wave:platform:*"))


def test_a_platform_token_is_checked_with_user_info_and_makes_a_local_user(api, busybox, platform, caplog):
    token = platform.add_user(1234, "alice", "alice@example.org")
    caplog.set_level("DEBUG")
    user = user_of(request(api, busybox, platform, token))
    assert f"GET {platform.url}/user-info: HTTP 200" in caplog.text and token not in caplog.text
    assert platform.requests == [("/user-info", f"Bearer {token}")]
    account = PlatformAccount.objects.get(user=user)
    assert (account.endpoint, account.platform_user_id, account.platform_user_name) == (platform.url, 1234, "alice")
    assert (user.username, user.email, user.org, user.has_usable_password()) == ("alice", "alice@example.org", "example.org", False)


def test_the_answer_is_cached_under_a_hash_never_the_token(api, busybox, platform, settings):
    token = platform.add_user(7, "bob", "bob@example.org")
    first, second = (user_of(request(api, busybox, platform, token)) for _ in range(2))
    assert first == second and platform.paths() == ["/user-info"]
    key = next(k for k in platform_keys() if sync_redis().get(k) and b'"bob"' in sync_redis().get(k))
    assert token.encode() not in key and token.encode() not in sync_redis().get(key)
    assert 0 < sync_redis().ttl(key) <= settings.WAVE_PLATFORM_CACHE_TTL


def test_the_platform_is_asked_again_once_the_cache_expires(api, busybox, platform, settings):
    settings.WAVE_PLATFORM_CACHE_TTL = 1
    token = platform.add_user(8, "carol", "carol@example.org")
    user = user_of(request(api, busybox, platform, token))
    wait_until(lambda: user_of(request(api, busybox, platform, token)) == user and len(platform.requests) == 2, timeout=20)


def test_while_redis_is_away_every_request_asks_the_platform(api, busybox, platform, monkeypatch):
    away = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)  # nothing listens there
    monkeypatch.setattr(platform_identity, "sync_redis", lambda: away)
    token = platform.add_user(31, "ann", "ann@example.org")
    assert user_of(request(api, busybox, platform, token)) == user_of(request(api, busybox, platform, token))
    assert platform.paths() == ["/user-info", "/user-info"]


def test_a_refused_token_is_401_naming_the_endpoint_and_what_to_change(api, busybox, platform, settings, caplog):
    caplog.set_level("DEBUG")
    response = request(api, busybox, platform, "eyJ0aWQiOiA-not-known")
    assert "HTTP 401" in caplog.text and "eyJ0aWQiOiA-not-known" not in caplog.text
    assert response.status_code == 401
    assert response.json()["message"] == (
        f"The Seqera Platform at {platform.url} refused the access token (HTTP 401): check TOWER_ACCESS_TOKEN "
        "(tower.accessToken), or unset it to use the service anonymously"
    )
    # The refusal is cached too, for a shorter time.
    assert request(api, busybox, platform, "eyJ0aWQiOiA-not-known").status_code == 401
    assert platform.paths() == ["/user-info"]
    (key,) = [k for k in platform_keys() if sync_redis().get(k) == b'{"refused": 401}']
    assert 0 < sync_redis().ttl(key) <= settings.WAVE_PLATFORM_REFUSAL_CACHE_TTL


@pytest.mark.parametrize(
    "answer, why",
    [
        ((403, {}, b"{}"), "(HTTP 403)"),
        ((200, {}, b'{"user": null}'), "(it knows no user for it)"),
        ((200, {}, b"{}"), "(it knows no user for it)"),
    ],
)


def test_a_forbidden_token_or_an_answer_without_a_user_is_refused(api, busybox, platform, answer, why):
    platform.answer = answer
    response = request(api, busybox, platform, "eyJ0aWQiOiA-whatever")
    assert response.status_code == 401
    assert f"The Seqera Platform at {platform.url} refused the access token {why}" in response.json()["message"]


def test_a_token_of_one_platform_is_refused_by_another(api, busybox, platform, other_platform, settings):
    trust(settings, platform, other_platform)
    token = platform.add_user(9, "dave", "dave@example.org")
    assert request(api, busybox, platform, token).status_code == 200
    response = request(api, busybox, other_platform, token)
    assert response.status_code == 401 and f"Seqera Platform at {other_platform.url} refused" in response.json()["message"]
    assert platform.paths() == other_platform.paths() == ["/user-info"]


def test_an_endpoint_the_operator_does_not_trust_is_never_called(api, busybox, platform, other_platform):
    response = request(api, busybox, other_platform, other_platform.add_user(10, "erin", "erin@example.org"))
    assert response.status_code == 400 and f"Unsupported towerEndpoint '{other_platform.url}'" in response.json()["message"]
    assert other_platform.requests == []


def test_the_configured_endpoint_is_called_not_the_requests_own_path(api, busybox, platform):
    token = platform.add_user(11, "frank", "frank@example.org")
    assert request(api, busybox, platform, token, towerEndpoint=f"{platform.url}/../admin?x=").status_code == 200
    assert platform.paths() == ["/user-info"]


def test_an_unreachable_platform_is_503_and_not_cached(api, busybox, settings):
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings.WAVE_PLATFORM_ENDPOINTS = [endpoint]
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "towerEndpoint": endpoint, "towerAccessToken": "eyJ0aWQiOiA-x"})
    assert response.status_code == 503
    message = response.json()["message"]
    assert message.startswith(f"The Seqera Platform at {endpoint} could not check the access token: GET {endpoint}/user-info failed")
    assert "eyJ0aWQiOiA-x" not in message and platform_keys() == []


def test_a_platform_slower_than_the_timeout_is_503(api, busybox, platform, settings):
    settings.WAVE_PLATFORM_TIMEOUT = 0.5
    platform.hang.set()
    response = request(api, busybox, platform, platform.add_user(12, "gina", "gina@example.org"))
    assert response.status_code == 503 and "timed out after 0.5 s" in response.json()["message"]


@pytest.mark.parametrize(
    "answer, reason",
    [
        ((200, {}, b"<html>hello</html>"), "is not JSON"),
        ((200, {}, b"[" * 30000 + b"]" * 30000), "is not JSON"),
        ((200, {}, b'{"user": {"id": "12", "userName": "x", "email": "x@example.org"}}'), "no valid user id and userName"),
        ((200, {}, b'{"user": "alice"}'), "has no user object"),
        ((200, {}, b'{"user": {"id": 9223372036854775808, "userName": "x", "email": null}}'), "no valid user id"),
        ((200, {}, b"[" * 70000), "is larger than 65536 bytes"),
        ((500, {}, b"{}"), "answered HTTP 500"),
        ((404, {}, b"{}"), "answered HTTP 404"),
    ],
)


def test_a_platform_answering_nonsense_is_502(api, busybox, platform, answer, reason):
    platform.answer = answer
    response = request(api, busybox, platform, "eyJ0aWQiOiA-nonsense")
    assert response.status_code == 502
    assert reason in response.json()["message"] and f"Seqera Platform at {platform.url}" in response.json()["message"]
    assert platform_keys() == []


@pytest.mark.parametrize("target", ["internal", "http://169.254.169.254/latest/meta-data/"])
def test_a_redirect_is_not_followed(api, busybox, platform, other_platform, target):
    location = f"{other_platform.url}/user-info" if target == "internal" else target
    platform.answer = (302, {"Location": location}, b"")
    response = request(api, busybox, platform, "eyJ0aWQiOiA-redirected")
    assert response.status_code == 502 and "answered HTTP 302" in response.json()["message"]
    assert "redirects are not followed" in response.json()["message"]
    assert other_platform.requests == []


def test_the_ssrf_guard_refuses_a_loopback_platform_not_on_the_allow_list(api, busybox, platform, settings):
    endpoint = platform.url.replace("127.0.0.1", "localhost")
    settings.WAVE_PLATFORM_ENDPOINTS = [endpoint]
    settings.WAVE_SSRF_ALLOWLIST = []
    body = {"containerImage": "docker.io/library/busybox", "towerEndpoint": endpoint, "towerAccessToken": "eyJ0aWQiOiA-x"}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 503 and "loopback" in response.json()["message"]
    assert platform.requests == []


@pytest.mark.parametrize("token", ["eyJ0a\nX-Injected: 1", "eyJ0a iQ", "eyJ0aé", "e" * 4097, "eyJ\r\n"])
def test_a_token_an_http_header_cannot_carry_is_400_and_never_sent(api, busybox, platform, token):
    response = request(api, busybox, platform, token)
    assert response.status_code == 400 and "Invalid towerAccessToken: a token is printable ASCII" in response.json()["message"]
    assert token not in response.json()["message"] and platform.requests == []


def test_a_hostile_user_name_gets_a_safe_username_of_its_own(api, busybox, platform):
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    user = user_of(request(api, busybox, platform, platform.add_user(13, "admin", "root@example.org")))
    assert user != admin and user.username == "admin-13" and not (user.is_staff or user.is_superuser)
    odd = user_of(request(api, busybox, platform, platform.add_user(14, "../../é tc\n<script>" + "ü" * 500, "x@example.org")))
    assert odd.username.startswith("e-tc-script-uuu") and len(odd.username) <= 100
    nameless = user_of(request(api, busybox, platform, platform.add_user(15, "\u202e\u200b", "y@example.org")))
    assert nameless.username == "platform-user"


@pytest.mark.parametrize(
    "email", ["alice@evil.org@example.org", "alice@example.org\n", "x" * 250 + "@example.org", "not an email", "", None]
)


def test_a_hostile_email_gives_no_org(api, busybox, platform, email):
    user = user_of(request(api, busybox, platform, platform.add_user(16, "mallory", email)))
    assert user.email == "" and user.org is None


def test_the_same_platform_user_name_on_two_platforms_makes_two_users(api, busybox, platform, other_platform, settings):
    trust(settings, platform, other_platform)
    first = user_of(request(api, busybox, platform, platform.add_user(17, "sam", "sam@example.org")))
    second = user_of(request(api, busybox, other_platform, other_platform.add_user(17, "sam", "sam@example.com")))
    assert first != second and (first.username, second.username) == ("sam", "sam-17")


def test_a_user_deleted_by_an_operator_is_made_again(api, busybox, platform):
    token = platform.add_user(18, "olga", "olga@example.org")
    user_of(request(api, busybox, platform, token)).delete()
    again = user_of(request(api, busybox, platform, token))
    assert again.username == "olga" and PlatformAccount.objects.get().user == again


def test_a_user_deactivated_by_an_operator_is_403(api, busybox, platform):
    token = platform.add_user(19, "pete", "pete@example.org")
    User.objects.filter(pk=user_of(request(api, busybox, platform, token)).pk).update(is_active=False)
    response = request(api, busybox, platform, token)
    assert response.status_code == 403 and "'pete' of Seqera Platform user #19" in response.json()["message"]


def test_the_platforms_new_email_moves_the_user_to_its_org(api, busybox, platform, settings):
    settings.WAVE_PLATFORM_CACHE_TTL = 1
    token = platform.add_user(20, "quinn", "quinn@example.org")
    assert user_of(request(api, busybox, platform, token)).org == "example.org"
    platform.users[token]["email"] = "quinn@seqera.io"
    wait_until(lambda: user_of(request(api, busybox, platform, token)).org == "seqera.io", timeout=20)


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_requests_make_one_user_and_one_workspace(busybox, platform):
    token = platform.add_user(21, "rita", "rita@example.org")
    platform.workspaces[21] = [{"orgId": 1, "orgName": "lab", "workspaceId": 555, "workspaceName": "genomics"}]
    platform.gate = threading.Barrier(2, timeout=30)  # both calls reach the Platform before either is answered
    results = []

    def ask():
        try:
            results.append(request(APIClient(), busybox, platform, token, towerWorkspaceId=555))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200, 200], [r.json() for r in results]
    assert platform.paths() == ["/user-info", "/user-info", "/user/21/workspaces", "/user/21/workspaces"]
    assert PlatformAccount.objects.count() == 1 and User.objects.filter(username__startswith="rita").count() == 1
    assert PlatformWorkspace.objects.count() == 1 and Workspace.objects.get().members.get().username == "rita"


def test_service_tokens_work_as_before_and_are_never_sent_to_the_platform(api, busybox, platform, owner, owner_token):
    assert user_of(request(api, busybox, platform, owner_token)) == owner
    response = request(api, busybox, platform, "wave_revoked-or-unknown")
    assert response.status_code == 401 and "unknown or has been revoked" in response.json()["message"]
    assert platform.requests == []


def test_the_bearer_header_alone_is_enough(api, busybox, platform):
    token = platform.add_user(22, "sue", "sue@example.org")
    body = {"containerImage": busybox, "towerEndpoint": platform.url}
    response = api.post("/v1alpha2/container", body, format="json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert user_of(response).username == "sue"


def test_a_header_and_a_body_naming_different_tokens_is_400(api, busybox, platform):
    token = platform.add_user(23, "tom", "tom@example.org")
    body = {"containerImage": busybox, "towerEndpoint": platform.url, "towerAccessToken": token}
    response = api.post("/v1alpha2/container", body, format="json", HTTP_AUTHORIZATION="Bearer eyJ0aWQiOiA-other")
    assert response.status_code == 400 and "different tokens" in response.json()["message"]
    assert token not in response.json()["message"] and platform.requests == []


def test_a_platform_workspace_becomes_a_local_workspace_the_user_is_in(api, busybox, platform):
    token = platform.add_user(24, "uma", "uma@example.org")
    platform.workspaces[24] = [{"orgId": 1, "orgName": "lab", "workspaceId": 555, "workspaceName": "genomics"}]
    response = request(api, busybox, platform, token, towerWorkspaceId=555)
    record = ContainerRequest.objects.select_related("workspace").get(token=response.json()["containerToken"])
    assert record.workspace.name == "lab / genomics" and record.user in record.workspace.members.all()
    assert PlatformWorkspace.objects.get(workspace=record.workspace).platform_workspace_id == 555
    assert platform.paths() == ["/user-info", "/user/24/workspaces"]
    assert request(api, busybox, platform, token, towerWorkspaceId=555).status_code == 200
    assert len(platform.requests) == 2  # both answers cached


def test_a_workspace_the_platform_does_not_list_for_the_user_is_403(api, busybox, platform):
    token = platform.add_user(25, "vic", "vic@example.org")
    platform.workspaces[25] = [{"orgId": 1, "orgName": "lab", "workspaceId": 555, "workspaceName": "genomics"}]
    response = request(api, busybox, platform, token, towerWorkspaceId=556)
    assert response.status_code == 403
    assert response.json()["message"] == f"towerWorkspaceId '556' is not one of your workspaces at the Seqera Platform {platform.url}"
    assert not PlatformWorkspace.objects.exists()


def test_a_workspace_id_too_large_to_store_is_never_a_workspace(api, busybox, platform):
    token = platform.add_user(30, "abe", "abe@example.org")
    platform.workspaces[30] = [{"orgId": 1, "orgName": "lab", "workspaceId": 2**64, "workspaceName": "huge"}]
    response = request(api, busybox, platform, token, towerWorkspaceId=2**64)
    assert response.status_code == 403 and f"'{2**64}'" in response.json()["message"]


def test_inspect_checks_a_platform_token_the_same_way(api, busybox, platform):
    token = platform.add_user(26, "wendy", "wendy@example.org")
    body = client_body("wavecli_inspect_platform", containerImage=busybox, towerEndpoint=platform.url, towerAccessToken=token)
    assert post(api, "/v1alpha1/inspect", body).status_code == 200
    assert platform.paths() == ["/user-info"] and PlatformAccount.objects.filter(platform_user_id=26).exists()
    body["towerAccessToken"] = "eyJ0aWQiOiA-refused"
    response = post(api, "/v1alpha1/inspect", body)
    assert response.status_code == 401 and "refused the access token (HTTP 401)" in response.json()["message"]


def test_nextflows_platform_launched_request_is_its_platform_user(api, busybox, platform):
    token = platform.add_user(27, "xena", "xena@example.org")
    platform.workspaces[27] = [{"orgId": 2, "orgName": "org", "workspaceId": 40230138858677, "workspaceName": "ws"}]
    body = client_body("nextflow_platform", containerImage=busybox, towerEndpoint=platform.url, towerAccessToken=token)
    response = api.post("/v1alpha2/container", body, format="json", HTTP_AUTHORIZATION=f"Bearer {token}")
    record = ContainerRequest.objects.get(token=response.json()["containerToken"])
    assert record.user.username == "xena" and record.workspace.platform_workspace.platform_workspace_id == 40230138858677


def test_wave_clis_request_with_a_platform_token_is_its_platform_user(api, busybox, platform):
    token = platform.add_user(28, "yan", "yan@example.org")
    platform.workspaces[28] = [{"orgId": 2, "orgName": "org", "workspaceId": 40230138858677, "workspaceName": "ws"}]
    body = client_body("wavecli_platform", containerImage=busybox, towerEndpoint=platform.url, towerAccessToken=token)
    assert user_of(post(api, "/v1alpha2/container", body)).username == "yan"


def test_a_service_token_with_wave_clis_default_platform_endpoint_is_its_user(api, busybox, owner, platform):
    body = client_body("wavecli_platform", containerImage=busybox, towerAccessToken=api_token(owner), towerWorkspaceId=None)
    body.pop("towerWorkspaceId")
    assert body["towerEndpoint"] == "https://api.cloud.seqera.io"
    assert user_of(post(api, "/v1alpha2/container", body)) == owner


@pytest.mark.parametrize("endpoint", ["https://api.tower.nf", "https://API.tower.nf/", "http://api.cloud.seqera.io/x/"])
def test_the_platform_called_is_the_configured_one_under_its_current_name(endpoint):
    assert _configured(endpoint) == "https://api.cloud.seqera.io"


def test_operators_see_the_links_in_the_admin_without_the_token(api, busybox, platform, client):
    token = platform.add_user(29, "zoe", "zoe@example.org")
    platform.workspaces[29] = [{"orgId": 3, "orgName": "zlab", "workspaceId": 77, "workspaceName": "main"}]
    request(api, busybox, platform, token, towerWorkspaceId=77)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    accounts = client.get("/admin/accounts/platformaccount/")
    workspaces = client.get("/admin/accounts/platformworkspace/")
    assert accounts.status_code == workspaces.status_code == 200
    assert b"zoe" in accounts.content and b"zlab / main" in workspaces.content
    assert token.encode() not in accounts.content + workspaces.content


@pytest.mark.django_db(transaction=True)
def test_nextflows_request_through_the_real_server_with_its_bearer_header(busybox, platform, tmp_path):
    token = platform.add_user(32, "nora", "nora@example.org")
    platform.workspaces[32] = [{"orgId": 2, "orgName": "org", "workspaceId": 40230138858677, "workspaceName": "ws"}]
    server = start_server(tmp_path / "server.log", WAVE_PLATFORM_ENDPOINTS=platform.url)
    try:
        body = client_body("nextflow_platform", containerImage=busybox, towerEndpoint=platform.url, towerAccessToken=token)
        response = httpx.post(f"{server.url}/v1alpha2/container", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert response.status_code == 200, response.text
        inspect = {"containerImage": busybox, "towerEndpoint": platform.url}
        refused = httpx.post(f"{server.url}/v1alpha1/inspect", json=inspect, headers={"Authorization": "Bearer eyJ0aWQiOiA-nope"}, timeout=60)
        assert refused.status_code == 401 and f"Seqera Platform at {platform.url} refused" in refused.json()["message"]
    finally:
        stop_server(server)
    record = ContainerRequest.objects.select_related("user", "workspace").get(token=response.json()["containerToken"])
    assert (record.user.username, record.user.org, record.workspace.name) == ("nora", "example.org", "org / ws")
    assert token not in (tmp_path / "server.log").read_text()


def test_made_up_tokens_are_throttled_before_they_reach_the_platform(api, busybox, platform, settings):
    """Each refused token costs the service a Platform call: past the limit, a client's tokens are
    not looked at (a 429), so a stranger cannot make it call the Platform at line rate."""
    for key in sync_redis().scan_iter("wave:throttle:access_token_failures:*"):
        sync_redis().delete(key)
    settings.WAVE_RATE_LIMIT_ACCESS_TOKEN_FAILURES = f"3/{10**9}"
    answers = [request(api, busybox, platform, f"eyJ0aWQiOiA-made-up-{n}") for n in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    assert answers[-1].json()["message"].startswith("Too many refused access tokens from client 127.0.0.1: 3 in")
    assert platform.paths() == ["/user-info"] * 3
    # A real user's token is refused too from this client until the window ends, as for passwords.
    assert request(api, busybox, platform, platform.add_user(21, "gail", "gail@example.org")).status_code == 429
