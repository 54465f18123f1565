"""GET /service-info, the OpenAPI schema and its docs page, and JSON 404s."""

import re

import pytest

from wave_site import __version__


def test_service_info_gives_the_wave_api_level_the_version_and_the_commit(client, settings):
    from wave_site.service_info import commit_id

    commit_id.cache_clear()
    settings.WAVE_COMMIT_ID = "0123abcd"
    try:
        body = client.get("/service-info").json()
    finally:
        commit_id.cache_clear()
    # wave-cli `--info` reads `version` as a semver and wants at least 1.31.0
    assert body == {"serviceInfo": {"version": "1.31.2", "commitId": "0123abcd", "serviceVersion": __version__}}


def test_without_a_configured_commit_it_reads_git(settings):
    from wave_site.service_info import commit_id

    settings.WAVE_COMMIT_ID = ""
    commit_id.cache_clear()
    try:
        found = commit_id()
    finally:
        commit_id.cache_clear()
    assert found == "unknown" or (len(found) == 10 and int(found, 16) >= 0)


def test_the_openapi_schema_describes_every_endpoint(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/v1alpha2/container",
        "/container-token",
        "/container-token/{token}",
        "/v1alpha2/container/{request_id}",
        "/v1alpha2/container/{request_id}/status",
        "/v1alpha1/inspect",
        "/v1alpha1/builds/{build_id}",
        "/v1alpha1/builds/{build_id}/status",
        "/v1alpha1/builds/{build_id}/logs",
        "/service-info",
    ]:
        assert path in schema["paths"], path
    request = schema["components"]["schemas"]["ContainerRequestRequest"]["properties"]
    assert {"containerImage", "containerFile", "containerConfig", "packages", "nameStrategy", "freeze"} <= set(request)


def test_the_docs_page_renders_without_external_assets(client):
    page = client.get("/openapi/").content.decode()
    assert "/openapi.json" in page
    assert not re.search(r"https?://(cdn|unpkg)", page)


@pytest.mark.django_db
def test_unknown_paths_are_json_404s(client):
    response = client.get("/v1alpha9/nothing")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found: /v1alpha9/nothing"}
