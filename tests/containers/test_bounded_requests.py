"""Bounded work per request: gzip bombs, counts, body size and hostile JSON are 4xx, never 500s."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os

import pytest
from django.test import Client
from rest_framework.exceptions import ValidationError

from builds.context_archive import ContextError, Limits, unpack
from builds.models import StoredBlob
from containers.models import ContainerRequest
from oci.inflate import GRACE
from oci.layer import LayerBuilder
from tests.support.bombs import gzip_bomb, tar_bomb
from tests.support.helpers import REGISTRY, post
from wave_site.fields import StrictCharField

pytestmark = pytest.mark.django_db

POST_ENDPOINTS = ["/v1alpha2/container", "/container-token", "/v1alpha1/inspect"]


def data_layer(blob: bytes, tar_digest: str = "sha256:" + "0" * 64) -> dict:
    return {
        "location": "data:" + base64.b64encode(blob).decode(),
        "gzipDigest": "sha256:" + hashlib.sha256(blob).hexdigest(),
        "gzipSize": len(blob),
        "tarDigest": tar_digest,
    }


def test_a_gzip_bomb_in_a_data_layer_is_refused_by_the_ratio_and_nothing_is_stored(api, busybox):
    bomb = gzip_bomb(1800)  # the review's 1,800 MiB of zeros
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "containerConfig": {"layers": [data_layer(bomb)]}})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Layer 0: the content inflates more than 100 times its compressed size (a gzip bomb?)"
    )
    assert not StoredBlob.objects.exists() and not ContainerRequest.objects.exists()


def test_the_ratio_is_a_setting(api, busybox, settings):
    layer = LayerBuilder().add_file("zeros", bytes(GRACE + (1 << 20))).build()  # ~1000x, past the grace
    body = {"containerImage": busybox, "containerConfig": {"layers": [data_layer(layer.gzip, layer.tar_digest)]}}
    assert "100 times" in post(api, "/v1alpha2/container", body).json()["message"]
    settings.WAVE_MAX_LAYER_RATIO = 2000
    assert post(api, "/v1alpha2/container", body).status_code == 200


def test_a_layer_past_the_inflated_size_limit_is_refused_even_within_the_ratio(api, busybox, settings):
    settings.WAVE_MAX_LAYER_INFLATED_SIZE = 1 << 20
    layer = LayerBuilder().add_file("random", os.urandom(2 << 20)).build()
    body = {"containerImage": busybox, "containerConfig": {"layers": [data_layer(layer.gzip, layer.tar_digest)]}}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert response.json()["message"] == "Layer 0: the content inflates to more than 1048576 bytes"


def test_a_build_context_bomb_is_refused_when_the_request_arrives(api):
    body = {"containerFile": base64.b64encode(b"FROM scratch\n").decode(), "buildContext": data_layer(tar_bomb(1024))}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Attribute 'buildContext': the content inflates more than 100 times its compressed size (a gzip bomb?)"
    )


def test_the_worker_stops_a_context_bomb_by_the_ratio_while_unpacking(tmp_path):
    """A stored context the request-time check never saw (older settings): the entry's declared size
    is within the limits, its inflated bytes are not."""
    with pytest.raises(ContextError, match="more than 100 times its compressed size"):
        unpack(io.BytesIO(tar_bomb(1024)), tmp_path, Limits(entries=10, size=2 << 30, ratio=100))
    assert (tmp_path / "zeros").stat().st_size <= GRACE + (1 << 20)


def test_more_layers_than_the_limit_are_refused_before_any_is_checked(api, busybox, settings):
    settings.WAVE_MAX_LAYERS = 3
    layers = [{"location": "data:AAAA"}] * 4  # invalid layers: the count is checked first
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "containerConfig": {"layers": layers}})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Invalid value for attribute 'containerConfig.layers': 4 layers are more than the 3 allowed (WAVE_MAX_LAYERS)"
    )


def test_the_default_layer_limit_holds_a_thousand_layers_off(api, busybox):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "containerConfig": {"layers": [{}] * 1000}})
    assert response.status_code == 400
    assert "1000 layers are more than the 100 allowed" in response.json()["message"]


@pytest.mark.parametrize(
    "body, attribute",
    [
        ({"containerImage": "IMAGE", "containerConfig": {"env": ["A=1"] * 6}}, "containerConfig.env"),
        ({"containerImage": "IMAGE", "containerConfig": {"cmd": ["x"] * 6}}, "containerConfig.cmd"),
        ({"containerImage": "IMAGE", "containerConfig": {"entrypoint": ["x"] * 6}}, "containerConfig.entrypoint"),
        ({"packages": {"type": "CONDA", "entries": ["bwa"] * 6}}, "packages.entries"),
        ({"packages": {"type": "CONDA", "entries": ["bwa"], "channels": ["c"] * 6}}, "packages.channels"),
        ({"packages": {"type": "CONDA", "entries": ["bwa"], "condaOpts": {"commands": ["x"] * 6}}}, "packages.condaOpts.commands"),
        ({"containerImage": "IMAGE", "scanLevels": ["LOW"] * 6}, "scanLevels"),
        ({"containerFile": "RlJPTSBzY3JhdGNoCg==", "containerIncludes": ["IMAGE"] * 6}, "containerIncludes"),
    ],
)


def test_lists_longer_than_the_limit_are_refused_naming_the_attribute_the_count_and_the_limit(api, busybox, settings, body, attribute):
    settings.WAVE_MAX_LIST_ENTRIES = 5
    body = json.loads(json.dumps(body).replace("IMAGE", busybox))
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"Invalid value for attribute '{attribute}': has 6 entries, more than the 5 allowed (WAVE_MAX_LIST_ENTRIES)"
    )


def test_a_nine_mib_layer_twelve_mib_of_base64_is_accepted(api, busybox):
    layer = LayerBuilder().add_file("opt/big.bin", os.urandom(9 << 20)).build()
    body = {"containerImage": busybox, "containerConfig": {"layers": [data_layer(layer.gzip, layer.tar_digest)]}}
    assert len(json.dumps(body)) > 12 << 20
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.content[:300]
    assert StoredBlob.objects.get(digest=layer.gzip_digest).size == layer.size


def test_the_body_limit_admits_a_layer_of_the_documented_size(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.WAVE_MAX_BODY_SIZE
    assert settings.WAVE_MAX_BODY_SIZE > len(base64.b64encode(bytes(settings.WAVE_MAX_LAYER_SIZE))) + (1 << 20)


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_a_body_over_the_limit_is_a_json_413_naming_the_limit_and_the_size(path, settings):
    body = json.dumps({"containerImage": "x" * (settings.WAVE_MAX_BODY_SIZE + 1)}).encode()
    response = Client().post(path, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["message"] == (
        f"The request body is {len(body)} bytes; at most {settings.WAVE_MAX_BODY_SIZE} bytes are accepted (WAVE_MAX_BODY_SIZE)"
    )


def test_a_body_over_the_limit_on_a_page_is_json_too(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = Client().post("/accounts/login/", {"username": "x" * 2000, "password": "y"})
    assert response.status_code == 413
    assert response.json()["message"].startswith("The request body is ")
    assert "at most 1000 bytes are accepted" in response.json()["message"]


HOSTILE = {
    "nested 5000 levels in a known attribute": ('{"containerImage":' + "[" * 5000 + "]" * 5000 + "}", "nested deeper than 32 levels"),
    "nested 40 levels in an unknown attribute": ('{"containerImage":"IMAGE","extra":' + '{"a":' * 40 + "1" + "}" * 40 + "}", "nested deeper than 32 levels (at 'extra.a.a"),
    "NUL in an unknown value": ('{"containerImage":"IMAGE","extra":"a\\u0000b"}', "the string at 'extra' contains a NUL character"),
    "NUL in a key": ('{"containerImage":"IMAGE","extra":{"\\u0000":1}}', "contains a NUL character"),
    "NUL in a known value": ('{"containerImage":"IMAGE\\u0000"}', "the string at 'containerImage' contains a NUL character"),
    "lone surrogate in a value": ('{"containerImage":"IMAGE","extra":"\\ud800"}', "the string at 'extra' contains a lone surrogate"),
    "lone surrogate in a key": ('{"containerImage":"IMAGE","extra":{"\\udfff":1}}', "the string at 'extra.\\udfff' contains a lone surrogate"),
    "lone surrogate in a list": ('{"containerImage":"IMAGE","containerConfig":{"env":["A=\\ud800"]}}', "'containerConfig.env[0]' contains a lone surrogate"),
    "1e400": ('{"containerImage":"IMAGE","extra":1e400}', "the number 1e400 is out of range"),
    "-1e400": ('{"containerImage":"IMAGE","extra":[-1e400]}', "the number -1e400 is out of range"),
    "NaN": ('{"containerImage":"IMAGE","extra":NaN}', "NaN is not a JSON number"),
    "Infinity": ('{"containerImage":"IMAGE","towerWorkspaceId":Infinity}', "Infinity is not a JSON number"),
    "-Infinity": ('{"containerImage":"IMAGE","extra":-Infinity}', "-Infinity is not a JSON number"),
    "an integer of 5000 digits": ('{"containerImage":"IMAGE","extra":' + "9" * 5000 + "}", "JSON parse error"),
    "bytes that are not UTF-8": ('{"containerImage":"IMAGE","extra":"\xff"}', "JSON parse error"),
}


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_json_anywhere_is_a_400_naming_the_problem(path, case, busybox):
    raw, message = HOSTILE[case]
    encoded = raw.replace("IMAGE", busybox).encode("latin-1" if "\xff" in raw else "utf-8", "surrogatepass")
    response = Client(raise_request_exception=True).post(path, encoded, content_type="application/json")
    assert response.status_code == 400, (case, response.content[:300])
    assert response.json()["message"].startswith("Malformed JSON request body: ")
    assert message.replace("IMAGE", busybox) in response.json()["message"], response.json()
    assert not ContainerRequest.objects.exists()


def test_a_character_outside_the_bmp_written_as_a_surrogate_pair_is_accepted_and_stored(api, busybox):
    body = '{"containerImage":"%s","extra":"\\ud83d\\ude00 ok"}' % busybox
    response = api.post("/v1alpha2/container", body, content_type="application/json")
    assert response.status_code == 200, response.json()
    assert ContainerRequest.objects.get().request["extra"] == "\U0001f600 ok"


def test_strict_strings_still_refuse_surrogates_with_drfs_message_when_no_parser_ran():
    with pytest.raises(ValidationError, match=r"Surrogate characters are not allowed: U\+D800\."):
        StrictCharField().run_validation("a\ud800")
    with pytest.raises(ValidationError, match="Null characters are not allowed"):
        StrictCharField().run_validation("a\x00")


def test_a_long_build_repository_with_image_suffix_is_cut_to_a_valid_name_not_a_500(api):
    """The review's F14: a 200-character buildRepository and a long package name made a repository
    path over 255 characters, which the service itself could not parse."""
    repository = f"{REGISTRY}/" + "r" * (200 - len(REGISTRY) - 1)
    body = {
        "packages": {"type": "CONDA", "entries": ["bioconda::" + "p" * 150]},
        "buildRepository": repository, "nameStrategy": "imageSuffix", "dryRun": True,
    }
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    target = response.json()["containerImage"]
    assert target.startswith(repository + "/ppp")
    assert len(target.split("/", 1)[1].split(":")[0]) == 255
