"""The validated container request is one immutable value, made by the serializer from a body."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from django.conf import settings

from builds.request_spec import BuildCompression, ContainerRequestSpec, Packages, thawed
from containers.serializers import ContainerRequestSerializer

DIGEST = "sha256:" + "a" * 64
LAYER = {"location": "https://example.org/l.tar.gz", "gzipDigest": DIGEST, "gzipSize": 10, "tarDigest": DIGEST, "skipHashing": None}


def spec_of(body: dict, **context) -> ContainerRequestSpec:
    serializer = ContainerRequestSerializer(data=body, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.to_spec()


def test_a_conda_request_becomes_typed_packages_with_defaults_filled_in():
    spec = spec_of({
        "packages": {"type": "conda", "entries": ["salmon", " ", "bwa"], "channels": ["bioconda"], "condaOpts": {"commands": ["echo hi"]}},
        "buildCompression": {"mode": "zstd", "level": None, "force": None},
        "towerAccessToken": "s3cret",
    })
    assert spec.packages == Packages(type="CONDA", entries=("salmon", "bwa"), channels=("bioconda",), conda_opts={"commands": ("echo hi",)})
    assert spec.build_compression == BuildCompression(mode="zstd")
    assert (spec.platform, spec.format, spec.freeze, spec.mirror, spec.dry_run) == (settings.WAVE_DEFAULT_PLATFORM, "docker", False, False, False)
    assert spec.builds and spec.container_includes == ()
    assert "s3cret" not in repr(spec) and spec.tower_access_token == "s3cret"


def test_a_dockerfile_is_decoded_and_the_body_kept_as_sent():
    body = {"containerFile": base64.b64encode(b"FROM busybox\n").decode(), "containerConfig": {"env": ["A=1"], "layers": [LAYER], "cmd": None}}
    spec = spec_of(body)
    assert spec.container_file == "FROM busybox\n"
    assert thawed(spec.container_config) == {"env": ["A=1"], "layers": [LAYER]}  # the empty parts dropped
    assert thawed(spec.body) == body


def test_the_value_and_everything_in_it_refuse_changes():
    spec = spec_of({"containerImage": "busybox", "containerConfig": {"env": ["A=1"], "layers": [LAYER]}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.container_image = "ubuntu"
    with pytest.raises(TypeError):
        spec.container_config["env"] = ["B=2"]
    with pytest.raises(TypeError):
        spec.layers[0]["location"] = "https://elsewhere/"
    with pytest.raises(TypeError):
        spec.body["containerImage"] = "ubuntu"
    with pytest.raises(AttributeError):
        spec.container_config["env"].append("B=2")


def test_added_layers_make_a_new_value_and_leave_the_first_as_it_was():
    spec = spec_of({"containerImage": "busybox", "containerConfig": {"layers": [LAYER]}})
    added = {**LAYER, "location": "https://example.org/other.tar.gz"}
    more = spec.with_layers([added])
    assert thawed(more.layers) == [LAYER, added]
    assert thawed(spec.layers) == [LAYER]
    assert more.body == spec.body and not more.builds
