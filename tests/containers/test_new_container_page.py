"""The new-container page without a browser: the form posts the API's request through the API's
serializer and service, with the API's limits; bad values come back next to their field."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from builds.models import Build
from containers.models import ContainerRequest
from tests.support.factories import api_token

pytestmark = pytest.mark.django_db

NEW = "/view/containers/new"


class Fields(HTMLParser):
    """Every form control's id, and every label's `for`."""

    def __init__(self):
        super().__init__()
        self.controls, self.labels = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "textarea", "select") and attrs.get("type") != "hidden":
            self.controls.append(attrs.get("id"))
        if tag == "label" and attrs.get("for"):
            self.labels.add(attrs["for"])


def form_post(client: Client, **values) -> object:
    data = {"kind": "image", "platform": "linux/amd64", "format": "docker", **values}
    return client.post(NEW, data, REMOTE_ADDR=values.pop("remote_addr", "127.0.0.1"))


def field_error(response, field: str) -> str:
    match = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', response.content.decode(), re.S)
    assert match, f"no error next to {field}: {response.content.decode()[:3000]}"
    return match.group(1)


@pytest.fixture
def local_conda(settings, conda_channel, busybox):
    """The configured channels are the tests' own; images laid on busybox, with no base packages."""
    settings.WAVE_CONDA_CHANNELS = [conda_channel]
    settings.WAVE_CONDA_BASE_PACKAGES = ""
    settings.WAVE_CONDA_BASE_IMAGE = busybox
    settings.WAVE_BUILD_QUEUE = "idle"  # builds wait: these tests look at requests, not at images
    return conda_channel


def test_the_form_is_open_to_everyone_and_every_control_has_a_label():
    response = Client().get(NEW)
    assert response.status_code == 200
    fields = Fields()
    fields.feed(response.content.decode())
    assert {"image", "env", "entrypoint", "cmd", "working_dir", "dockerfile", "packages", "channels", "q", "platform",
            "format", "freeze", "build_repository", "kind-image", "kind-dockerfile", "kind-conda"} <= set(fields.controls)
    assert [c for c in fields.controls if c not in fields.labels] == []


def test_the_home_page_leads_strangers_to_the_form_and_users_to_their_builds(owner):
    assert Client().get("/")["Location"] == NEW
    signed_in = Client()
    signed_in.force_login(owner)
    assert signed_in.get("/")["Location"] == "/view/builds/"


def test_an_image_with_its_config_lands_on_the_requests_page(busybox):
    response = form_post(Client(), image=busybox, env="A=1\nB=two words\n", entrypoint="/bin/sh -c",
                         cmd="'echo hi'", working_dir="/tmp")
    assert response.status_code == 302
    token = response["Location"].removeprefix("/view/containers/")
    request = ContainerRequest.objects.get(token=token)
    assert request.user is None and request.endpoint == NEW and request.container_image == busybox
    assert request.container_config == {"env": ["A=1", "B=two words"], "entrypoint": ["/bin/sh", "-c"], "cmd": ["echo hi"], "workingDir": "/tmp"}
    assert Client().get(response["Location"]).status_code == 200


def test_a_signed_in_users_request_is_theirs(owner, busybox):
    client = Client()
    client.force_login(owner)
    response = form_post(client, image=busybox)
    request = ContainerRequest.objects.get(token=response["Location"].removeprefix("/view/containers/"))
    assert (request.user, request.org) == (owner, "seqera.io")


def test_a_form_request_is_the_api_request(api, owner, local_conda):
    """Same inputs, same service: the API's request joins the build the form's request started."""
    client = Client()
    client.force_login(owner)
    response = form_post(client, kind="conda", packages="wavetest-hello\nwavetest-extra=2.0", channels=local_conda,
                         platform="linux/arm64")
    form_request = ContainerRequest.objects.get(token=response["Location"].removeprefix("/view/containers/"))
    body = {"packages": {"type": "CONDA", "entries": ["wavetest-hello", "wavetest-extra=2.0"], "channels": [local_conda]},
            "containerPlatform": "linux/arm64", "towerAccessToken": api_token(owner)}
    answer = api.post("/v1alpha2/container", body, format="json").json()
    api_request = ContainerRequest.objects.get(token=answer["requestId"])
    assert form_request.build_id == answer["buildId"] == api_request.build_id
    assert Build.objects.get(pk=answer["buildId"]).platform == "linux/arm64"
    assert form_request.target_image.replace(form_request.token, "T") == answer["targetImage"].replace(answer["requestId"], "T")
    assert form_request.request["packages"] == api_request.request["packages"]
    assert (form_request.user, form_request.platform) == (api_request.user, api_request.platform)


@pytest.mark.parametrize("values, field, shown", [
    ({"image": "x", "platform": "linux/s390"}, "platform", "s390"),
    ({"image": "busy box:latest"}, "image", "busy box:latest"),
    ({"kind": "conda", "packages": " \n "}, "packages", "Attribute &#x27;packages&#x27; needs &#x27;entries&#x27;"),
    ({"image": "x", "entrypoint": "/bin/sh -c 'unclosed"}, "entrypoint", "/bin/sh -c &#x27;unclosed"),
    ({"image": "x", "env": "not an assignment"}, "env", "not an assignment"),
    ({"image": "x", "working_dir": "relative/dir"}, "working_dir", "relative/dir"),
    ({"kind": "conda", "packages": "samtools", "channels": "file:///etc"}, "", "file:///etc"),
    ({"kind": "dockerfile", "dockerfile": "FROM x\n", "format": "sif"}, "", "freeze"),
    ({"kind": "dockerfile", "dockerfile": "FROM x\n", "freeze": "on", "build_repository": "Bad Repo"}, "build_repository", "Bad Repo"),
    ({"kind": "dockerfile", "dockerfile": "FROM x\nRUN true\x00"}, "dockerfile", "contains a NUL character (at character 15)"),
])
def test_a_bad_value_comes_back_next_to_its_field(values, field, shown):
    response = form_post(Client(), **values)
    assert response.status_code == 400
    message = field_error(response, field) if field else re.search(r'id="form-error"[^>]*>(.*?)</p>', response.content.decode(), re.S).group(1)
    assert shown in message
    for name, value in values.items():  # what was typed is kept
        if name not in ("kind", "platform", "format", "freeze") and value.strip():
            assert value.replace("'", "&#x27;").splitlines()[0] in response.content.decode()


def test_a_dockerfile_over_the_apis_limit_is_refused_with_its_size(settings):
    settings.WAVE_MAX_CONTAINER_FILE = 1000
    response = form_post(Client(), kind="dockerfile", dockerfile="FROM x\n" + "RUN true\n" * 200)
    assert response.status_code == 400
    assert field_error(response, "dockerfile") == (
        "Attribute &#x27;containerFile&#x27; is too large: 1807 bytes once decoded, the limit is 1000"
    )


def test_a_post_without_the_csrf_token_is_refused(busybox):
    response = Client(enforce_csrf_checks=True).post(NEW, {"kind": "image", "image": busybox})
    assert response.status_code == 403
    assert ContainerRequest.objects.count() == 0


def test_the_form_spends_the_anonymous_limit_of_its_address(busybox, settings):
    settings.WAVE_RATE_LIMIT_PULLS_ANONYMOUS = "2/3600"
    client = Client()
    assert [form_post(client, image=busybox, remote_addr="198.51.100.9").status_code for _ in range(2)] == [302, 302]
    refused = form_post(client, image=busybox, remote_addr="198.51.100.9")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    page = refused.content.decode()
    assert 'id="too-many"' in page and "Rate limit exceeded: 2 pulls an hour for client 198.51.100.9" in page
    assert form_post(client, image=busybox, remote_addr="198.51.100.10").status_code == 302  # another address: its own budget


def test_a_build_through_the_form_counts_as_a_build(settings):
    settings.WAVE_RATE_LIMIT_BUILDS_ANONYMOUS = "1/86400"
    settings.WAVE_BUILD_QUEUE = "idle"
    client = Client()
    assert form_post(client, kind="dockerfile", dockerfile="FROM scratch\nENV A=1\n").status_code == 302
    refused = form_post(client, kind="dockerfile", dockerfile="FROM scratch\nENV A=2\n")
    assert refused.status_code == 429 and "1 builds a day for client 127.0.0.1" in refused.content.decode()


def test_search_results_without_script_are_added_to_the_packages(local_conda):
    client = Client()
    found = client.post(NEW, {"kind": "conda", "q": "wavetest-ex", "search": "1", "packages": "wavetest-lib"})
    assert found.status_code == 200
    assert re.findall(r'name="add" value="([^"]+)"', found.content.decode()) == ["wavetest-extra=2.0"]
    response = form_post(client, kind="conda", packages="wavetest-lib", add="wavetest-extra=2.0")
    request = ContainerRequest.objects.get(token=response["Location"].removeprefix("/view/containers/"))
    assert request.request["packages"]["entries"] == ["wavetest-lib", "wavetest-extra=2.0"]


def test_a_user_sees_a_dockerfile_build_they_requested(owner, settings):
    settings.WAVE_BUILD_QUEUE = "idle"
    client = Client()
    client.force_login(owner)
    dockerfile = "FROM scratch\r\nENV FROM_THE_FORM=1\r\n"
    response = form_post(client, kind="dockerfile", dockerfile=dockerfile)
    request = ContainerRequest.objects.get(token=response["Location"].removeprefix("/view/containers/"))
    assert request.build.container_file == "FROM scratch\nENV FROM_THE_FORM=1\n"
    assert request.request["containerFile"] == base64.b64encode(b"FROM scratch\nENV FROM_THE_FORM=1\n").decode()
    assert request.build.user == owner


def test_a_form_body_over_the_size_limit_is_a_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = form_post(Client(), kind="dockerfile", dockerfile="FROM x\n" + "RUN true\n" * 400)
    assert response.status_code == 413
    assert "at most 2000 bytes are accepted (WAVE_MAX_BODY_SIZE)" in response.json()["message"]


def test_an_image_the_registry_does_not_have_is_the_apis_refusal_above_the_form(registry, api):
    image = f"{registry}/library/nothing-here:latest"
    response = form_post(Client(), image=image)
    api_answer = api.post("/v1alpha2/container", {"containerImage": image}, format="json")
    assert response.status_code == api_answer.status_code >= 400
    message = re.search(r'id="form-error"[^>]*>(.*?)</p>', response.content.decode(), re.S).group(1)
    assert message == api_answer.json()["message"].replace("'", "&#x27;")
    assert image in api_answer.json()["message"]
