"""A failed build's reason is public by id, but buildah's failure line quotes the failing command (a
recipe's, which can carry a secret): whoever may not read the log gets the reason without it."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from django.test import Client

from builds.models import Build
from builds.output import LOG_LINE
from builds.visibility import REASON_IN_LOG
from tests.support.factories import BuildFactory, UserFactory, api_token
from tests.support.helpers import REGISTRY, wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_failing_steps_command_is_not_in_the_reason_strangers_read(wave_server, build_worker):
    owner = UserFactory(email="owner@seqera.io")
    secret = f"s3cr3t-{uuid.uuid4().hex[:8]}"
    dockerfile = f"FROM {REGISTRY}/library/busybox\nRUN echo https://deploy:{secret}@git.example/x.tgz && false\n"
    body = wave_server.request_container({"containerFile": base64.b64encode(dockerfile.encode()).decode(), "towerAccessToken": api_token(owner)})
    wait_until(lambda: Build.objects.get(pk=body["buildId"]).status == Build.Status.FAILED, timeout=180)
    build = Build.objects.get(pk=body["buildId"])
    assert secret in build.reason, build.reason  # buildah's line: Error: building at STEP "RUN echo ...": exit status 1
    assert secret not in build.public_reason and LOG_LINE in build.public_reason

    reader = Client()
    reader.force_login(owner)
    assert secret in reader.get(f"/view/builds/{build.id}").content.decode()
    for path in (f"/view/builds/{build.id}", f"/view/builds/{build.id}/log"):
        for who in (Client(), _outsider()):
            shown = who.get(path).content.decode()
            assert secret not in shown and "RUN echo" not in shown, path
    follower = httpx.get(f"{wave_server.url}/view/builds/{build.id}/log").json()
    assert follower["reason"] == build.public_reason


@pytest.mark.django_db
def test_a_build_that_ended_before_public_reasons_shows_strangers_where_the_reason_is():
    build = BuildFactory(user=UserFactory(email="someone@seqera.io"), org="seqera.io", status=Build.Status.FAILED,
                         reason='Error: building at STEP "RUN echo hidden-token": exit status 1', public_reason="")
    answer = Client().get(f"/view/builds/{build.id}/log").json()
    assert answer["reason"] == REASON_IN_LOG == "The reason quotes the build's log, which is shown to its owner's organisation and operators"
    assert "hidden-token" not in Client().get(f"/view/builds/{build.id}").content.decode()


def _outsider() -> Client:
    client = Client()
    client.force_login(UserFactory(email="stranger@gmail.com"))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("offset", ["2147483647", "99999999999999999999"])
def test_a_huge_follower_offset_is_an_empty_answer_not_a_500(offset):
    build = BuildFactory(status=Build.Status.RUNNING, log="one line\n")
    answer = Client().get(f"/view/builds/{build.id}/log?offset={offset}")
    assert answer.status_code == 200 and answer.json()["text"] == ""
    assert Client().get(f"/view/builds/no-such-build/log?offset={offset}").status_code == 404
