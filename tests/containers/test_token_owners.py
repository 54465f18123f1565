"""Container tokens die with their user and their API token (security review F10), and a cached
token record of another version is never trusted (code review item 5: errors tell the truth)."""

from __future__ import annotations

import json
from dataclasses import asdict

import httpx
import pytest
import redis
from django.conf import settings

from accounts.models import ApiToken, User
from containers.models import ContainerRequest
from containers.tokens import VERSION, token_info
from tests.support.factories import UserFactory, api_token
from tests.support.helpers import wait_until
from tests.support.servers import start_server, stop_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def store() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def pull(server, token: str) -> int:
    return httpx.get(f"{server.url}/v2/wt/{token}/library/busybox/manifests/latest", headers={"Accept": MANIFEST}, timeout=60).status_code


def issue(server, busybox: str, plaintext: str) -> str:
    return server.request_container({"containerImage": busybox, "towerAccessToken": plaintext})["containerToken"]


@pytest.fixture(scope="module")
def rechecking(django_db_setup, tmp_path_factory):
    """A server that trusts a cached token record for one second."""
    server = start_server(tmp_path_factory.mktemp("recheck") / "server.log", WAVE_TOKEN_RECHECK="1")
    yield server
    stop_server(server)


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
def test_a_users_container_tokens_stop_at_once(wave_server, busybox, how):
    alice, bob = UserFactory(), UserFactory()
    token, bobs = issue(wave_server, busybox, api_token(alice)), issue(wave_server, busybox, api_token(bob))
    assert pull(wave_server, token) == pull(wave_server, bobs) == 200
    if how == "deactivated":
        alice.is_active = False
        alice.save()
    else:
        alice.delete()
    assert pull(wave_server, token) == 404
    assert pull(wave_server, bobs) == 200
    assert ContainerRequest.objects.get(token=token).revoked_at is not None


def test_a_user_deactivated_behind_the_models_back_is_refused_at_the_next_recheck(rechecking, busybox):
    # The review's way: a bulk update, which sends no signal.
    alice = UserFactory()
    token = issue(rechecking, busybox, api_token(alice))
    assert pull(rechecking, token) == 200
    assert 0 < store().ttl(f"wave:token:{token}") <= 1
    User.objects.filter(pk=alice.pk).update(is_active=False)
    wait_until(lambda: pull(rechecking, token) == 404, timeout=20)
    User.objects.filter(pk=alice.pk).update(is_active=True)  # Postgres decides each time: back it comes
    wait_until(lambda: pull(rechecking, token) == 200, timeout=20)


@pytest.mark.parametrize("how", ["revoked", "revoked by the admin action", "deleted"])
def test_revoking_an_api_token_stops_the_container_tokens_issued_with_it(wave_server, busybox, client, how):
    alice = UserFactory()
    first, second = api_token(alice, "first"), api_token(alice, "second")
    token, other = issue(wave_server, busybox, first), issue(wave_server, busybox, second)
    assert pull(wave_server, token) == 200
    revoked = ApiToken.objects.get(user=alice, name="first")
    if how == "revoked":
        revoked.revoke()
    elif how == "revoked by the admin action":
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        response = client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [revoked.pk]})
        assert response.status_code == 302
    else:
        revoked.delete()
    assert pull(wave_server, token) == 404
    assert pull(wave_server, other) == 200  # issued with her other API token: still pulls


def test_an_api_token_revoked_behind_the_models_back_is_refused_at_the_next_recheck(rechecking, busybox):
    alice = UserFactory()
    token = issue(rechecking, busybox, api_token(alice))
    assert pull(rechecking, token) == 200
    ApiToken.objects.filter(user=alice).update(revoked_at=ContainerRequest.objects.get(token=token).created_at)
    wait_until(lambda: pull(rechecking, token) == 404, timeout=20)


def old_record(token: str, **changes) -> bytes:
    """The record as the unversioned release wrote it, with `changes` to its fields."""
    fields = asdict(token_info(ContainerRequest.objects.get(token=token)))
    return json.dumps({**fields, **changes}).encode()


@pytest.mark.parametrize(
    "shape",
    [{}, {"fusion": None, "retired_field": 1}, {"v": VERSION + 1, "renamed": "x"}],
    ids=["unversioned", "unversioned-other-fields", "newer-version"],
)


def test_a_record_of_another_version_is_read_again_and_replaced(wave_server, busybox, shape):
    token = wave_server.request_container({"containerImage": busybox})["containerToken"]
    fields = asdict(token_info(ContainerRequest.objects.get(token=token)))
    if "fusion" in shape:
        del fields["fusion"]
    record = json.dumps({**fields, **shape}).encode()
    store().set(f"wave:token:{token}", record, ex=3600)
    assert pull(wave_server, token) == 200
    replaced = json.loads(store().get(f"wave:token:{token}"))
    assert replaced["v"] == VERSION and "retired_field" not in replaced and "renamed" not in replaced
    assert store().ttl(f"wave:token:{token}") <= settings.WAVE_TOKEN_RECHECK


def test_an_old_record_of_a_token_revoked_since_is_not_trusted(wave_server, busybox):
    token = wave_server.request_container({"containerImage": busybox})["containerToken"]
    store().set(f"wave:token:{token}", old_record(token), ex=3600)  # written before the upgrade
    ContainerRequest.objects.filter(token=token).update(revoked_at=ContainerRequest.objects.get(token=token).created_at)
    assert pull(wave_server, token) == 404  # at once: the record is refused on its version alone
