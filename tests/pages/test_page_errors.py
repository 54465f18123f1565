"""The errors Django answers itself, through the test client and the real middleware: a form refused
for CSRF (CSRF_FAILURE_VIEW) and a 400 (a bad Host, too many fields) are pages in the site's layout on
page paths, and the API's JSON, byte for byte as before, everywhere else."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import ApiToken
from containers.models import ContainerRequest
from tests.support.factories import ContainerRequestFactory, UserFactory
from tests.support.html_outline import assert_layout, outline

pytestmark = pytest.mark.django_db

STALE = "A" * 64  # a well-formed token that matches no cookie: a page kept open across a sign-in
ADVICE = ('<p id="csrf-advice">Reload the page and send the form again. Cookies must be enabled for this site: '
          "the form's token is checked against one.</p>")


def csrf_client(user=None) -> Client:
    """A browser that has the CSRF cookie (from any page it opened) and checks tokens as production does."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    client.get("/accounts/login/")
    assert "csrftoken" in client.cookies
    return client


def token_of(client: Client, page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(page).content.decode()).group(1)


def refused_page(response) -> tuple[str, str]:
    """(the problem, the advice) of a CSRF refusal, after checking it is the site's own 403 page."""
    assert response.status_code == 403
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert_layout(html)
    assert "<h1>The form was refused</h1>" in html
    assert "CSRF verification failed. Request aborted." not in html and "403_csrf" not in html  # not Django's page
    return re.search(r'<p id="csrf-failure">(.*?)</p>', html).group(1), re.search(r'<p id="csrf-advice">.*?</p>', html).group(0)


TOKEN_PROBLEM = "Its CSRF token is missing or out of date (signing in or out since the page was loaded changes it)."


# --- CSRF: every form of the site ---------------------------------------------------------------

def test_each_form_posted_with_a_stale_token_is_the_sites_403_page(owner):
    forms = [
        (None, "/view/containers/new", {"kind": "image", "image": "busybox"}),
        (owner, "/view/account/tokens", {"name": "laptop"}),
        (None, "/accounts/login/", {"username": "owner", "password": "password"}),
        (owner, "/accounts/logout/", {}),
        (None, "/admin/login/", {"username": "owner", "password": "password"}),
    ]
    for user, path, data in forms:
        client = csrf_client(user)
        for token in ({}, {"csrfmiddlewaretoken": STALE}):  # missing, then stale
            response = client.post(path, data | token)
            assert refused_page(response) == (TOKEN_PROBLEM, ADVICE), (path, token)
    assert ContainerRequest.objects.count() == 0 and ApiToken.objects.count() == 0
    assert Client().get("/view/account/").status_code == 302  # nothing signed anyone in


def test_the_same_form_with_its_token_goes_through(owner):
    client = csrf_client(owner)
    response = client.post("/view/account/tokens", {"name": "laptop", "csrfmiddlewaretoken": token_of(client, "/view/account/")})
    assert (response.status_code, response["Location"]) == (302, "/view/account/")
    assert ApiToken.objects.filter(user=owner, name="laptop").count() == 1


def test_a_browser_without_cookies_is_told_to_enable_them():
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    token = token_of(client, "/accounts/login/")
    client.cookies.clear()  # what a browser that refuses cookies sends back
    problem, advice = refused_page(client.post("/accounts/login/", {"username": "x", "password": "y", "csrfmiddlewaretoken": token}))
    assert (problem, advice) == ("Your browser did not send this site&#x27;s CSRF cookie with it, or sent a damaged one.", ADVICE)


def test_a_form_from_another_site_is_refused_without_quoting_its_origin_referer_or_fields(owner):
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    client = csrf_client(owner)
    token = token_of(client, "/view/account/")
    response = client.post("/view/account/tokens", {"name": hostile, "csrfmiddlewaretoken": token},
                           HTTP_ORIGIN="https://evil.example/" + hostile, HTTP_REFERER="https://evil.example/" + hostile)
    problem, advice = refused_page(response)
    assert (problem, advice) == ("It was sent from a page that is not on this site.", ADVICE)
    html = response.content.decode()
    assert "evil.example" not in html and "script" not in html and "onerror" not in html and "alert" not in html
    assert ApiToken.objects.count() == 0


def test_the_csrf_page_reads_nothing_from_the_database(owner, django_assert_num_queries):
    client = csrf_client(owner)
    with django_assert_num_queries(0):
        response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": STALE})
    refused_page(response)
    assert "Sign in" in outline(response.content.decode()).nav_links  # rendered without the session or user


def test_a_csrf_refusal_off_the_pages_is_json():
    response = Client(enforce_csrf_checks=True).post("/metrics", {})
    assert (response.status_code, response["Content-Type"]) == (403, "application/json")
    assert response.content == b'{"message": "CSRF verification failed. Your browser did not send this site\'s CSRF cookie with it, or sent a damaged one."}'


def test_an_api_view_that_takes_a_session_keeps_drfs_own_csrf_refusal():
    request = ContainerRequestFactory()
    client = csrf_client(UserFactory(is_staff=True))
    response = client.delete(f"/container-token/{request.token}")
    assert (response.status_code, response["Content-Type"]) == (403, "application/json")
    assert response.content == b'{"message":"CSRF Failed: CSRF token missing."}'
    assert ContainerRequest.objects.get(pk=request.pk).revoked_at is None


def test_the_api_still_checks_no_csrf_token_and_answers_as_before(owner):
    client = csrf_client(owner)  # a browser session, no token, a hostile Origin: the API authenticates by token only
    response = client.post("/v1alpha2/container", {}, content_type="application/json", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 400
    assert response.content == b'{"message":"Specify either \'containerImage\', \'containerFile\' or \'packages\'"}'


# --- 400s Django raises itself ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/view/builds/", "/accounts/login/", "/admin/"])
def test_a_bad_host_on_a_page_is_a_400_page_naming_it_and_the_services_address(path, settings):
    settings.WAVE_SERVER_URL = "https://wave.example.org"
    response = Client(raise_request_exception=False).get(path, HTTP_HOST="evil.example")
    assert response.status_code == 400 and response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert_layout(html)
    assert "<h1>Bad request</h1>" in html
    assert '<p id="bad-request">This service does not answer to the host name &#x27;evil.example&#x27;.</p>' in html
    assert '''<p>This service's address is <a href="https://wave.example.org">https://wave.example.org</a>.</p>''' in html
    assert "ALLOWED_HOSTS" not in html


def test_a_hostile_host_is_shown_escaped_and_cut_short():
    hostile = '<script>alert("h")</script>' + "x" * 200
    response = Client(raise_request_exception=False).get("/view/builds/", HTTP_HOST=hostile)
    assert response.status_code == 400
    html = response.content.decode()
    assert "<script>alert" not in html
    shown = re.search(r'<p id="bad-request">(.*?)</p>', html).group(1)
    assert shown == ("This service does not answer to the host name &#x27;&lt;script&gt;alert(&quot;h&quot;)&lt;/script&gt;"
                     + "x" * 73 + "…&#x27;.")


@pytest.mark.parametrize("path", ["/service-info", "/v1alpha2/container", "/openapi.json", "/metrics"])
def test_a_bad_host_on_the_api_keeps_its_json_byte_for_byte(path):
    response = Client(raise_request_exception=False).get(path, HTTP_HOST="evil.example")
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    assert response.content == (b'{"message": "Bad request: Invalid HTTP_HOST header: \'evil.example\'. '
                                b'You may need to add \'evil.example\' to ALLOWED_HOSTS."}')


FIELDS = "&".join(f"f{i}=1" for i in range(1001))  # DATA_UPLOAD_MAX_NUMBER_FIELDS is Django's 1,000


def test_too_many_fields_on_a_page_is_a_400_page(owner):
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    response = client.get("/view/builds/?" + FIELDS)
    assert response.status_code == 400 and response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert_layout(html)
    assert ('<p id="bad-request">The request has more than 1000 fields (query parameters and form fields); '
            "at most 1000 are accepted.</p>") in html
    assert "address is" not in html


def test_too_many_form_fields_posted_to_sign_in_is_a_400_page_before_any_sign_in(owner):
    client = csrf_client()
    token = token_of(client, "/accounts/login/")
    body = f"csrfmiddlewaretoken={token}&username=owner&password=password&" + FIELDS
    response = client.post("/accounts/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert '<p id="bad-request">The request has more than 1000 fields' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_too_many_fields_on_the_api_keeps_its_json_byte_for_byte():
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(is_staff=True))
    response = client.get("/v1alpha1/pull-events?" + FIELDS)
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    assert response.content == (b'{"message": "Bad request: The number of GET/POST parameters exceeded '
                                b'settings.DATA_UPLOAD_MAX_NUMBER_FIELDS."}')


def test_a_malformed_multipart_form_on_a_page_is_a_400_page():
    response = Client(raise_request_exception=False).post("/accounts/login/", b"--x\r\n", content_type="multipart/form-data")
    assert response.status_code == 400 and response["Content-Type"] == "text/html; charset=utf-8"
    assert '<p id="bad-request">Bad request: Invalid boundary in multipart: None.</p>' in response.content.decode()
