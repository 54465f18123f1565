"""Static files from the service's own process (WhiteNoise over `collectstatic`'s output, which
`scripts/stack test` makes): the admin's CSS and Swagger UI's assets, hashed names cached for good,
nothing outside the collected folder, and no 500 before `collectstatic` has run."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.servers import start_server, stop_server

pytestmark = pytest.mark.django_db(transaction=True)


def get(server, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers=headers, timeout=30)


def test_the_admins_stylesheet_is_served_as_css(wave_server):
    response = get(wave_server, "/static/admin/css/base.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "--header-bg" in response.text


def test_pages_link_hashed_names_that_are_cached_for_good_and_compressed(wave_server):
    page = get(wave_server, "/admin/login/").text
    href = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page).group(1)
    response = get(wave_server, href, **{"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"] and "max-age=315360000" in response.headers["cache-control"]
    assert response.headers["content-encoding"] == "gzip"
    # Its own references are hashed names too, so that a new image is a new URL.
    assert "--header-bg" in response.text and re.search(r'url\("\.\./img/sorting-icons\.[0-9a-f]{12}\.svg"\)', response.text)


def test_swagger_uis_page_loads_every_asset_it_names_from_the_service(wave_server):
    page = get(wave_server, "/openapi/").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert {a.rsplit(".", 1)[-1] for a in assets} >= {"js", "css"}, assets
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset  # no CDN can be reached
        response = get(wave_server, asset)
        assert response.status_code == 200, asset
        assert response.headers["content-type"].split(";")[0] in {"text/javascript", "text/css", "image/png"}, asset


@pytest.mark.parametrize("path", [
    "/static/../wave_site/settings.py",
    "/static/%2e%2e/%2e%2e/wave_site/settings.py",
    "/static/admin/../../../manage.py",
    "/static/admin/css/",
    "/static/admin/css/missing.css",
])
def test_nothing_outside_the_collected_files_is_served(wave_server, path):
    response = httpx.get(f"{wave_server.url}{path}", timeout=30)  # httpx would normalise the dots
    assert response.status_code == 404, path
    assert "SECRET_KEY" not in response.text and "django" not in response.text.lower()


def test_before_collectstatic_pages_render_with_plain_names(django_db_setup, tmp_path):
    empty = tmp_path / "static"
    empty.mkdir()
    server = start_server(tmp_path / "server.log", WAVE_STATIC_ROOT=str(empty))
    try:
        login = get(server, "/admin/login/")
        assert login.status_code == 200
        assert 'href="/static/admin/css/base.css"' in login.text
        assert get(server, "/openapi/").status_code == 200
        assert get(server, "/static/admin/css/base.css").status_code == 404  # unstyled, but not broken
    finally:
        stop_server(server)
    assert "static file 'admin/css/base.css' is not collected" in (tmp_path / "server.log").read_text()
