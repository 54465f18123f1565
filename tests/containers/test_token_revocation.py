"""A revoked token stays revoked in the cache, whatever a pull that read it earlier writes later."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from containers.models import ContainerRequest
from containers.tokens import cache_token, load_token, revoke, token_info
from tests.support.helpers import post

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_record_read_before_the_revocation_cannot_be_cached_after_it(api, busybox):
    token = post(api, "/v1alpha2/container", {"containerImage": busybox}).json()["containerToken"]
    request = ContainerRequest.objects.get(token=token)
    read_by_a_pull = token_info(request)  # a pull read the live request from Postgres ...
    assert revoke(ContainerRequest.objects.filter(token=token)) == [token]
    cache_token(read_by_a_pull)  # ... and caches it once the revocation is through
    assert async_to_sync(load_token)(token) is None
    assert revoke(ContainerRequest.objects.filter(token=token)) == []  # revoked once
