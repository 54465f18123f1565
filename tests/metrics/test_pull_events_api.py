"""GET /v1alpha1/pull-events: the pull records for operators, newest first, a cursor per page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from metrics.models import PullEvent
from tests.support.factories import UserFactory, api_token

pytestmark = pytest.mark.django_db


def pulls(count: int, token: str = "0123456789ab", user=None) -> list[PullEvent]:
    start = timezone.now() - timedelta(hours=1)
    return [
        PullEvent.objects.create(
            token=token, user=user, org="seqera.io" if user else "", image=f"library/busybox:{i}", digest="sha256:" + f"{i:064x}",
            platform="linux/amd64", ip_address="192.0.2.7", created_at=start + timedelta(seconds=i),
        )
        for i in range(count)
    ]


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token(user)}"}


def test_operators_page_through_every_pull_newest_first(api):
    owner = UserFactory(username="puller")
    made = pulls(5, user=owner)
    staff = bearer(UserFactory(username="operator", is_staff=True))
    seen, url = [], "/v1alpha1/pull-events?size=2"
    while url:
        response = api.get(url, **staff)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert len(body["results"]) <= 2
        seen += body["results"]
        url = body["next"]
    assert [event["id"] for event in seen] == [event.id for event in reversed(made)]
    newest = made[-1]
    assert seen[0] == {
        "id": newest.id, "token": "0123456789ab", "user": "puller", "org": "seqera.io", "image": "library/busybox:4",
        "digest": newest.digest, "platform": "linux/amd64", "fusion": False, "ipAddress": "192.0.2.7",
        "creationTime": newest.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_a_token_narrows_the_list_to_its_pulls(api):
    pulls(2, token="aaaaaaaaaaaa")
    theirs = pulls(3, token="bbbbbbbbbbbb")
    response = api.get("/v1alpha1/pull-events?token=bbbbbbbbbbbb", **bearer(UserFactory(is_staff=True)))
    assert response.status_code == 200
    assert [event["id"] for event in response.json()["results"]] == [event.id for event in reversed(theirs)]
    assert response.json()["results"][0]["user"] is None


def test_only_operators_read_pull_events(api):
    pulls(1)
    anonymous = api.get("/v1alpha1/pull-events")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "Authentication credentials were not provided."}
    user = api.get("/v1alpha1/pull-events", **bearer(UserFactory()))
    assert user.status_code == 403
    assert user.json() == {"message": "You do not have permission to perform this action."}
    assert api.post("/v1alpha1/pull-events", {}, format="json", **bearer(UserFactory(is_staff=True))).status_code == 405
