"""A registry's document that is JSON but not the document it claims to be is an InvalidDocument in
the registry's terms, never a KeyError or TypeError from the code that reads it."""

from __future__ import annotations

import json

import pytest

from oci import mediatypes
from oci.client import Manifest
from oci.errors import InvalidDocument, RegistryError
from oci.mutate import ConfigChange, mutate_config, mutate_manifest, select_platform
from oci.platform import Platform

DIGEST = "sha256:" + "a" * 64


def manifest(doc: dict, media_type: str = mediatypes.OCI_MANIFEST) -> Manifest:
    return Manifest.from_bytes(json.dumps(doc).encode(), media_type)


@pytest.mark.parametrize("doc, problem", [
    ({"layers": []}, "'config' is not a descriptor with a digest"),
    ({"config": {"digest": 5, "size": 1}}, "'config' is not a descriptor with a digest"),
    ({"config": {"digest": DIGEST}}, "'config' has no integer size"),
    ({"config": {"digest": DIGEST, "size": 1}, "layers": {"digest": DIGEST}}, "'layers' is not a list"),
    ({"config": {"digest": DIGEST, "size": 1}, "layers": [None]}, "layers[0] is not a descriptor with a digest"),
])
def test_an_image_manifest_of_the_wrong_shape_is_invalid(doc, problem):
    with pytest.raises(InvalidDocument, match=f"^The registry sent an invalid image manifest: {problem.replace('[', '.').replace(']', '.')}$"):
        mutate_manifest(manifest(doc), b"{}", ConfigChange())


@pytest.mark.parametrize("doc, problem", [
    ({"manifests": "x"}, "'manifests' is not a list"),
    ({"manifests": [{"digest": DIGEST, "size": 1, "platform": "linux/amd64"}]}, "platform is not an object"),
])
def test_an_index_of_the_wrong_shape_is_invalid(doc, problem):
    with pytest.raises(InvalidDocument, match=problem):
        select_platform(manifest(doc, mediatypes.OCI_INDEX), Platform())


@pytest.mark.parametrize("config, problem", [
    (b"null", "null, not an object"),
    (b'{"config": {"Entrypoint": "/bin/sh"}}', "config.Entrypoint is not a list of strings"),
    (b'{"config": {"Env": [1]}}', "config.Env is not a list of strings"),
    (b'{"rootfs": {"diff_ids": "sha256:x"}}', "rootfs.diff_ids is not a list of strings"),
    (b'{"config": [1]}', "'config' is not an object"),
    (b"\xff\xfe", "invalid image config"),
])
def test_a_config_of_the_wrong_shape_is_invalid(config, problem):
    with pytest.raises(InvalidDocument, match=problem):
        mutate_config(config, ConfigChange(entrypoint=("/wave",)))


def test_an_invalid_document_is_a_registry_error_so_callers_treat_it_as_the_upstreams():
    assert issubclass(InvalidDocument, RegistryError)
    with pytest.raises(InvalidDocument, match="'mediaType' is not a string"):
        Manifest.from_bytes(b'{"mediaType": ["x"]}')
