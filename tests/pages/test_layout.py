"""The site's layout on every page, through Django's test client: errors as pages for people and as
JSON for programs, a navigation for each kind of user, one h1, labelled controls, landmarks."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory

from builds.models import Build
from tests.support.error_urls import SECRET
from tests.support.factories import BuildFactory, ContainerRequestFactory, MirrorFactory, PullEventFactory, UserFactory
from tests.support.html_outline import assert_layout, outline
from wave_site import errors

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


# --- Errors: HTML in the layout for pages, the API's JSON unchanged ---------------------------------

@pytest.mark.parametrize("path", ["/view/nothing-here", "/view/builds/" + "e" * 16 + "_1", "/view/containers/aaaaaaaaaaaa",
                                  "/view/mirrors/mr-nope", "/accounts/nope"])
@pytest.mark.parametrize("signed_in", [False, True])
def test_a_missing_page_is_a_404_page_in_the_layout(path, signed_in, owner):
    client = as_user(owner if signed_in else None)
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert_layout(html)
    assert "<h1>Not found</h1>" in html and f"<code>{path}</code>" in html
    assert ("Account" in outline(html).nav_links) is signed_in


def test_a_form_posted_at_someone_elses_token_is_a_404_page(owner):
    response = as_user(owner).post("/view/account/tokens/999/revoke")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert_layout(response.content.decode())


def test_the_404_page_names_what_the_view_missed_but_not_the_url_patterns():
    html = as_user(None).get("/view/builds/" + "e" * 16 + "_1").content.decode()
    assert "No build " + "e" * 16 + "_1" in html
    html = as_user(None).get("/view/nothing-here").content.decode()
    assert "&lt;str:build_id&gt;" not in html and "<str:" not in html and "tried" not in html


def test_a_404_page_escapes_the_path():
    html = as_user(None).get("/view/<script>alert(1)</script>").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("path", ["/v1alpha1/nope", "/v1alpha2/nope", "/v1alpha1/builds/nope/x/y", "/openapi.jsonx",
                                  "/service-info/x", "/metrics/x", "/healthz/x", "/static-nope"])
def test_api_paths_keep_their_json_404_byte_for_byte(path):
    response = as_user(None).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.content == b'{"message": "Not found: ' + path.encode() + b'"}'


def test_the_registry_api_keeps_its_own_error_shape():
    response = as_user(None).get("/v2/nope/manifests/latest")
    assert response.status_code == 404 and json.loads(response.content)["errors"][0]["code"] == "NAME_UNKNOWN"


@pytest.mark.urls("tests.support.error_urls")
def test_a_bug_on_a_page_is_a_500_page_in_the_layout_that_hides_the_exception(owner):
    for user in (None, owner):
        response = as_user(user).get("/view/explode")
        assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert_layout(html)
        assert f"Internal error, request id {response['X-Request-Id']}" in html
        assert SECRET not in html and "KeyError" not in html and "Traceback" not in html
        assert "Account" not in outline(html).nav_links  # no session read: the database may be what failed


@pytest.mark.urls("tests.support.error_urls")
def test_a_bug_on_the_api_stays_the_json_500():
    response = as_user(None).get("/v1alpha1/explode")
    assert response.status_code == 500
    assert response.content == b'{"message": "Internal error, request id ' + response["X-Request-Id"].encode() + b'"}'


def test_the_500_page_reads_nothing_from_the_database(django_assert_max_num_queries):
    request = RequestFactory().get("/view/builds/")
    with django_assert_max_num_queries(0):
        response = errors.server_error(request)
    assert response.status_code == 500 and "<nav" in response.content.decode()


@pytest.mark.urls("tests.support.error_urls")
def test_a_500_page_whose_layout_fails_is_still_a_bare_page_with_the_request_id(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the template engine is gone")

    monkeypatch.setattr("wave_site.errors.render_to_string", broken)
    response = as_user(None).get("/view/explode")
    assert response.status_code == 500
    html = response.content.decode()
    assert f"<h1>Internal error, request id {response['X-Request-Id']}</h1>" in html
    assert SECRET not in html and "template engine" not in html


@pytest.mark.urls("tests.support.error_urls")
def test_a_refusal_is_a_403_page_for_people_and_json_for_programs(owner):
    response = as_user(owner).get("/view/refuse")
    assert response.status_code == 403 and response["Content-Type"].startswith("text/html")
    assert_layout(response.content.decode())
    assert '<p id="forbidden">Only the night shift may open this.</p>' in response.content.decode()
    response = as_user(owner).get("/v1alpha1/refuse")
    assert (response.status_code, response.content) == (403, b'{"message": "Only the night shift may open this."}')


def test_the_usage_refusal_is_a_403_page_in_the_layout(owner):
    response = as_user(owner).get("/view/usage/seqera.io")
    assert response.status_code == 403
    assert_layout(response.content.decode())


# --- Navigation for each kind of user ------------------------------------------------------------

def staff():
    return UserFactory(is_staff=True)


def org_manager():
    return UserFactory(email="mia@seqera.io", is_org_manager=True)


def manager_without_org():
    return UserFactory(email="", is_org_manager=True)


def metrics_reader():
    user = UserFactory(email="rita@seqera.io")
    user.user_permissions.add(Permission.objects.get(codename="view_usage_metrics"))
    return user


@pytest.mark.parametrize("make_user, links", [
    (lambda: None, ["New container", "Sign in"]),
    (lambda: UserFactory(email="u@seqera.io"), ["New container", "Builds", "Inspect", "Account"]),
    (metrics_reader, ["New container", "Builds", "Inspect", "Account"]),  # reads the API, not the pages
    (manager_without_org, ["New container", "Builds", "Inspect", "Account"]),
    (org_manager, ["New container", "Builds", "Inspect", "Usage", "Account"]),
    (staff, ["New container", "Builds", "Inspect", "Usage", "Account", "Admin"]),
])
def test_the_navigation_fits_each_kind_of_user(make_user, links):
    user = make_user()
    page = "/accounts/login/" if user is None else "/view/account/"
    html = as_user(user).get(page).content.decode()
    assert outline(html).nav_links == links
    if user is not None and "Usage" in links:  # each link it shows opens
        assert as_user(user).get("/view/usage/", follow=True).status_code == 200
    elif user is not None:
        assert as_user(user).get("/view/usage/").status_code == 403


def test_signing_in_from_a_page_comes_back_to_it():
    build = BuildFactory()
    html = as_user(None).get(f"/view/builds/{build.id}").content.decode()
    assert f'href="/accounts/login/?next=/view/builds/{build.id}">Sign in</a>' in html


# --- Every page: one h1, labelled controls, the landmarks ---------------------------------------

def every_page(owner) -> list[tuple[object, str]]:
    build = BuildFactory(user=owner, org="seqera.io", status=Build.Status.SUCCEEDED, log="done\n")
    container = ContainerRequestFactory(user=owner, org="seqera.io")
    mirror = MirrorFactory(user=owner, org="seqera.io")
    PullEventFactory(org="seqera.io", image="x:1")
    admin = UserFactory(is_staff=True)
    return [
        (None, "/accounts/login/"), (None, "/view/containers/new"), (owner, "/view/containers/new"), (owner, "/view/builds/"), (owner, "/view/builds/?status=FAILED&q=zz"),
        (owner, f"/view/builds/{build.id}"), (None, f"/view/builds/{build.id}"), (owner, f"/view/containers/{container.token}"),
        (None, f"/view/containers/{container.token}"), (owner, f"/view/mirrors/{mirror.id}"), (owner, "/view/inspect/"),
        (owner, "/view/inspect/?image=not%20an%20image"), (owner, "/view/account/"), (admin, "/view/usage/"),
        (admin, "/view/usage/seqera.io"), (admin, "/view/usage/seqera.io?days=7"), (admin, "/view/usage/(anonymous)"),
    ]


def test_every_page_has_one_h1_labelled_controls_and_the_landmarks(owner):
    for user, path in every_page(owner):
        response = as_user(user).get(path)
        assert response.status_code == 200, path
        try:
            assert_layout(response.content.decode())
        except AssertionError as exc:
            raise AssertionError(f"{path}: {exc}") from exc


def test_the_label_check_finds_an_unlabelled_control():
    html = '<label for="a">A</label><input id="a"><label>B <input name="b"></label><input name="c"><label for="x">X</label><select id="d"></select>'
    assert outline(html).unlabelled == ["c", "d"]


# --- Post/redirect/get --------------------------------------------------------------------------

def test_every_account_form_redirects_after_its_post(owner):
    client = as_user(owner)
    posts = [("/view/account/tokens", {"name": "laptop"}), ("/view/account/tokens", {"name": ""}),
             ("/view/account/credentials", {"registry": "quay.io", "username": "bob", "secret": "s"}),
             ("/view/account/credentials", {"registry": "quay.io"})]
    for path, data in posts:
        response = client.post(path, data)
        assert (response.status_code, response["Location"]) == (302, "/view/account/"), (path, data)


# --- The account page's snippets ----------------------------------------------------------------

def test_the_snippets_carry_the_new_token_once_then_a_placeholder(owner, settings):
    settings.WAVE_SERVER_URL = "https://wave.example.org"
    client = as_user(owner)
    client.post("/view/account/tokens", {"name": "nextflow"})
    html = client.get("/view/account/").content.decode()
    token = re.search(r'<p id="new-token">.*?<code>(wave_[A-Za-z0-9_-]+)</code>', html).group(1)
    nextflow = re.search(r'<pre id="snippet-nextflow"[^>]*>(.*?)</pre>', html, re.S).group(1)
    assert "endpoint = &#x27;https://wave.example.org&#x27;" in nextflow and f"accessToken = &#x27;{token}&#x27;" in nextflow
    assert "enabled  = true" in nextflow
    cli = re.search(r'<pre id="snippet-wave-cli"[^>]*>(.*?)</pre>', html, re.S).group(1)
    assert f"--wave-endpoint https://wave.example.org --tower-token {token}" in cli
    curl = re.search(r'<pre id="snippet-curl"[^>]*>(.*?)</pre>', html, re.S).group(1)
    assert "https://wave.example.org/v1alpha2/container" in curl and f"&quot;towerAccessToken&quot;: &quot;{token}&quot;" in curl
    again = client.get("/view/account/").content.decode()
    assert token not in again and "&lt;your API token&gt;" in re.search(r'<pre id="snippet-nextflow"[^>]*>(.*?)</pre>', again, re.S).group(1)
