"""The pages people use, through Django's test client: who sees what, and what each page shows."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiToken, RegistryCredential
from builds.models import Build
from tests.support.factories import PullEventFactory, UserFactory, registry_credential
from tests.support.helpers import REGISTRY


pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_build(build_hash: str, org: str, status=Build.Status.SUCCEEDED, log="line one\n", user=None) -> Build:
    return Build.objects.create(
        id=f"{build_hash}_1", content_hash=build_hash, number=1, status=status, container_file="FROM x\n",
        platform="linux/amd64", build_repository=f"{REGISTRY}/b", target_image=f"{REGISTRY}/b:{build_hash}",
        org=org, log=log, user=user,
    )


def test_pages_need_a_login():
    response = Client().get("/view/builds/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_build_list_shows_the_org_and_filters(owner):
    make_build("a" * 16, "seqera.io", Build.Status.FAILED)
    make_build("b" * 16, "seqera.io")
    make_build("c" * 16, "gmail.com")
    page = logged_in(owner).get("/view/builds/").content.decode()
    assert "a" * 16 in page and "b" * 16 in page and "c" * 16 not in page  # another org's build
    failed = logged_in(owner).get("/view/builds/?status=FAILED").content.decode()
    assert "a" * 16 in failed and "b" * 16 not in failed
    assert "b" * 16 in logged_in(owner).get(f"/view/builds/?q={'b' * 8}").content.decode()
    staff = UserFactory(is_staff=True)
    assert "c" * 16 in logged_in(staff).get("/view/builds/?org=gmail.com").content.decode()


def test_the_build_page_and_its_log_follower(owner):
    build = make_build("d" * 16, "seqera.io", Build.Status.RUNNING, log="first\n")
    page = logged_in(owner).get(f"/view/builds/{build.id}").content.decode()
    assert "first" in page and 'data-offset="6" data-completed="false"' in page and "/static/builds/build." in page
    Build.objects.filter(pk=build.id).update(log="first\nsecond\n")
    follow = logged_in(owner).get(f"/view/builds/{build.id}/log?offset=6").json()
    assert follow == {
        "text": "second\n", "offset": 13, "status": "RUNNING", "completed": False,
        "digest": "", "duration": None, "reason": "", "started": None, "finished": None, "size": None, "layers": [],
    }
    stranger = logged_in(UserFactory(email="x@gmail.com")).get(f"/view/builds/{build.id}").content.decode()
    assert "RUNNING" in stranger and "first" not in stranger  # public by id, the log private (test_public_pages)


def test_the_build_page_shows_the_end_of_a_long_log_and_links_the_rest(owner):
    build = make_build("e" * 16, "seqera.io", Build.Status.RUNNING)
    Build.objects.filter(pk=build.id).update(log="first line\n" + ("x" * 999 + "\n") * 3000 + "last line\n")
    page = logged_in(owner).get(f"/view/builds/{build.id}").content.decode()
    assert "last line" in page and "first line" not in page and len(page) < 120_000
    assert f'href="/view/builds/{build.id}/files/build.log" download' in page and 'data-offset="3000021"' in page
    whole = logged_in(owner).get(f"/view/builds/{build.id}/files/build.log").content.decode()
    assert whole.startswith("first line\n") and whole.endswith("last line\n") and len(whole) == 3000021
    follow = logged_in(owner).get(f"/view/builds/{build.id}/log?offset=0").json()
    assert follow["text"].startswith("first line") and follow["offset"] == 100_000


def test_usage_dashboards_are_for_operators_and_their_org_managers(owner):
    manager = UserFactory(email="boss@seqera.io", is_org_manager=True)
    assert logged_in(manager).get("/view/usage/seqera.io").status_code == 200
    assert logged_in(manager).get("/view/usage/gmail.com").status_code == 403
    assert logged_in(manager).get("/view/usage/")["Location"] == "/view/usage/seqera.io"
    assert logged_in(owner).get("/view/usage/seqera.io").status_code == 403
    assert logged_in(owner).get("/view/usage/").status_code == 403
    staff = UserFactory(is_staff=True)
    assert logged_in(staff).get("/view/usage/gmail.com").status_code == 200


def test_the_dashboard_counts_per_day_and_lists_top_images(owner):
    for image in ["a:1", "a:1", "b:2"]:
        PullEventFactory(user=owner, image=image)
    PullEventFactory(image="a:1", fusion=True)
    make_build("e" * 16, "seqera.io")
    page = logged_in(UserFactory(is_staff=True)).get("/view/usage/seqera.io").content.decode()
    assert '<span class="total" data-kind="pulls">4</span>' in page
    assert '<span class="total" data-kind="builds">1</span>' in page and '<span class="total" data-kind="fusion">1</span>' in page
    assert page.index("<code>a:1</code>") < page.index("<code>b:2</code>")


def test_tokens_are_shown_once_and_can_be_revoked(owner):
    client = logged_in(owner)
    created = client.post("/view/account/tokens", {"name": "laptop"})
    assert (created.status_code, created["Location"]) == (302, "/view/account/")  # post/redirect/get
    token = ApiToken.objects.get(user=owner)
    first = client.get("/view/account/")
    assert 'id="new-token"' in first.content.decode() and token.prefix in first.content.decode()
    assert first["Cache-Control"] == "no-store"
    assert "wave_new_token" not in client.session  # popped: a reload shows it no more
    assert 'id="new-token"' not in client.get("/view/account/").content.decode()
    client.post(f"/view/account/tokens/{token.pk}/revoke")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_credentials_are_added_replaced_deleted_and_never_shown(owner):
    client = logged_in(owner)
    client.post("/view/account/credentials", {"registry": "quay.io", "username": "bob", "secret": "first-secret"})
    client.post("/view/account/credentials", {"registry": "quay.io", "username": "bob2", "secret": "second-secret"})
    credential = RegistryCredential.objects.get(user=owner)
    assert (credential.username, credential.get_secret()) == ("bob2", "second-secret")
    page = client.get("/view/account/").content.decode()
    assert "second-secret" not in page and "first-secret" not in page and credential.secret_encrypted not in page
    client.post(f"/view/account/credentials/{credential.pk}/delete")
    assert not RegistryCredential.objects.filter(user=owner).exists()
    other = registry_credential("ghcr.io", "x", "y", user=UserFactory())
    assert client.post(f"/view/account/credentials/{other.pk}/delete").status_code == 404


def test_the_inspect_form_shows_layers(owner, busybox):
    page = logged_in(owner).get(f"/view/inspect/?image={busybox}").content.decode()
    assert "sha256:" in page and "bytes" in page and '"Cmd"' not in page and "cmd" in page
    bad = logged_in(owner).get("/view/inspect/?image=NOPE").content.decode()
    assert "not a valid name component" in bad


def test_the_token_page_shows_images_digests_and_pulls(api, owner, busybox):
    from tests.support.factories import api_token

    token = api.post("/v1alpha2/container", {"containerImage": busybox, "towerAccessToken": api_token(owner)}, format="json").json()["containerToken"]
    PullEventFactory(token=token, image=busybox)
    page = logged_in(owner).get(f"/view/containers/{token}").content.decode()
    assert busybox in page and f"/wt/{token}/library/busybox:latest" in page and '<dd id="pulls">1</dd>' in page
    stranger = logged_in(UserFactory(email="x@gmail.com")).get(f"/view/containers/{token}").content.decode()
    assert f"/wt/{token}/library/busybox:latest" in stranger and 'id="pulls"' not in stranger
