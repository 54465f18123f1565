"""`detailsUri` and Nextflow's container links open for whoever holds the id, signed in or not; the
recipe, log, lock, owner, config and pulls only for the owner's org and operators."""

from __future__ import annotations

import pytest
from django.test import Client

from builds.models import Build
from containers.models import ContainerRequest
from tests.support.factories import UserFactory
from tests.support.helpers import REGISTRY, SERVER

pytestmark = pytest.mark.django_db

RECIPE = "FROM busybox\nRUN echo s3cr3t-recipe\n"
LOG = "STEP 1/2: the-log-line\n"


@pytest.fixture
def failed_build(owner) -> Build:
    return Build.objects.create(
        id="f" * 16 + "_1", content_hash="f" * 16, number=1, status=Build.Status.FAILED, container_file=RECIPE,
        conda_file="dependencies:\n- the-conda-file\n", condalock="@EXPLICIT\nhttps://x/the-lock.conda\n",
        platform="linux/amd64", build_repository=f"{REGISTRY}/b", target_image=f"{REGISTRY}/b:{'f' * 16}",
        org="seqera.io", user=owner, log=LOG, reason="RUN exited with 1", public_reason="RUN exited with 1",
    )


@pytest.fixture
def request_row(owner, failed_build) -> ContainerRequest:
    return ContainerRequest.objects.create(
        token="0123456789ab", user=owner, org="seqera.io", ip_address="192.0.2.7", endpoint="/v1alpha2/container",
        request={}, container_config={"env": ["SECRET_ENV=the-config"]}, platform="linux/amd64",
        target_image=f"{SERVER}/wt/0123456789ab/b:" + "f" * 16, build=failed_build,
    )


def as_user(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


PRIVATE_BUILD = ("s3cr3t-recipe", "the-conda-file", "the-lock.conda", "the-log-line", "owner-name", "seqera.io")


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_a_stranger_with_the_details_uri_sees_the_build_but_not_its_private_side(failed_build, outsider, who):
    failed_build.user.username = "owner-name"
    failed_build.user.save()
    client = as_user(None if who == "anonymous" else outsider)
    response = client.get(f"/view/builds/{failed_build.id}")
    assert response.status_code == 200
    page = response.content.decode()
    assert failed_build.id in page and failed_build.target_image in page and "RUN exited with 1" in page and "FAILED" in page
    assert not [text for text in PRIVATE_BUILD if text in page]
    assert ('href="/accounts/login/' in page) is (who == "anonymous")
    follow = client.get(f"/view/builds/{failed_build.id}/log?offset=0").json()
    assert follow == {
        "text": "", "offset": 0, "status": "FAILED", "completed": True,
        "digest": "", "duration": None, "reason": "RUN exited with 1", "started": None, "finished": None, "size": None, "layers": [],
    }
    for name in ("Containerfile", "conda.yml", "conda.lock", "conda-lock.yml", "build.log"):
        refused = client.get(f"/view/builds/{failed_build.id}/files/{name}")
        assert refused.status_code == 403 and "owner's organisation and operators" in refused.content.decode()
        assert not [text for text in PRIVATE_BUILD if text in refused.content.decode()]


@pytest.mark.parametrize("who", ["owner", "member", "staff"])
def test_the_owner_org_and_operators_see_the_private_side(failed_build, owner, member, who):
    failed_build.user.username = "owner-name"
    failed_build.user.save()
    user = {"owner": owner, "member": member, "staff": UserFactory(is_staff=True, email="op@example.org")}[who]
    page = as_user(user).get(f"/view/builds/{failed_build.id}").content.decode()
    assert all(text in page for text in PRIVATE_BUILD)
    assert as_user(user).get(f"/view/builds/{failed_build.id}/log?offset=0").json()["text"] == LOG
    download = as_user(user).get(f"/view/builds/{failed_build.id}/files/conda.lock")
    assert download.content.decode() == failed_build.condalock
    assert download["Content-Disposition"] == f'attachment; filename="{failed_build.id}-conda.lock"'


def test_a_stranger_with_the_request_id_sees_the_container_but_not_who_asked(request_row, outsider):
    for client in (as_user(None), as_user(outsider)):
        response = client.get(f"/view/containers/{request_row.token}")
        assert response.status_code == 200
        page = response.content.decode()
        assert request_row.target_image in page and f"/view/builds/{'f' * 16}_1" in page
        assert "192.0.2.7" not in page and "the-config" not in page and 'id="pulls"' not in page
    member_page = as_user(request_row.user).get(f"/view/containers/{request_row.token}").content.decode()
    assert "192.0.2.7" in member_page and "the-config" in member_page and 'id="pulls"' in member_page


def test_unknown_ids_are_404s_for_everyone():
    assert as_user(None).get("/view/builds/" + "e" * 16 + "_1").status_code == 404
    assert as_user(None).get("/view/containers/aaaaaaaaaaaa").status_code == 404


def test_a_build_nobody_owns_is_public_whole(failed_build):
    Build.objects.filter(pk=failed_build.pk).update(user=None, org="")
    page = as_user(None).get(f"/view/builds/{failed_build.id}").content.decode()
    assert "s3cr3t-recipe" in page and "the-log-line" in page
    assert as_user(None).get(f"/view/builds/{failed_build.id}/files/build.log").content.decode() == LOG
    assert Client().get(f"/v1alpha1/builds/{failed_build.id}/logs").content.decode() == LOG


def test_the_build_api_keeps_an_owned_builds_private_side_for_its_org(failed_build, owner, outsider):
    from tests.support.factories import api_token

    stranger = Client().get(f"/v1alpha1/builds/{failed_build.id}").json()
    assert stranger["targetImage"] == failed_build.target_image and stranger["reason"] == "RUN exited with 1"
    assert not {"containerFile", "condaFile", "org"} & set(stranger)
    for path in ("logs", "condalock"):
        for headers in ({}, {"HTTP_AUTHORIZATION": f"Bearer {api_token(outsider)}"}):
            refused = Client().get(f"/v1alpha1/builds/{failed_build.id}/{path}", **headers)
            assert refused.status_code == 403 and "owner's organisation and operators" in refused.json()["message"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {api_token(owner)}"}
    assert Client().get(f"/v1alpha1/builds/{failed_build.id}", **bearer).json()["containerFile"] == RECIPE
    assert Client().get(f"/v1alpha1/builds/{failed_build.id}/logs", **bearer).content.decode() == LOG
    assert "the-lock.conda" in Client().get(f"/v1alpha1/builds/{failed_build.id}/condalock", **bearer).content.decode()
    assert Client().get(f"/v1alpha1/builds/{failed_build.id}/status").json()["status"] == "COMPLETED"  # public
