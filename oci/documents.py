"""Manifests, indexes and configs parsed from a registry's bytes, checked for the shape the rest of
the code relies on: anything else is an `InvalidDocument` (the registry's fault, said in its terms),
so a `KeyError` or `TypeError` left anywhere after this is the service's own bug, not the upstream's.
"""

from __future__ import annotations

import json
from typing import NoReturn

from . import mediatypes
from .errors import InvalidDocument

_STRING_LISTS = ("Env", "Entrypoint", "Cmd")
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


def _object(raw: bytes, what: str) -> dict:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # not JSON, bad UTF-8, or nested past the parser
        raise InvalidDocument(f"The registry sent an invalid {what}: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidDocument(f"The registry sent an invalid {what}: {_JSON_TYPES[type(doc)]}, not an object")
    return doc


def _fail(what: str, problem: str) -> NoReturn:
    raise InvalidDocument(f"The registry sent an invalid {what}: {problem}")


def _descriptor(value: object, what: str, where: str) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("digest"), str):
        _fail(what, f"{where} is not a descriptor with a digest")
    if not isinstance(value.get("size"), int) or isinstance(value["size"], bool):
        _fail(what, f"{where} has no integer size")


def media_type_of(raw: bytes) -> str:
    """The `mediaType` a manifest names for itself (OCI image manifest when it names none)."""
    media_type = _object(raw, "manifest").get("mediaType") or mediatypes.OCI_MANIFEST
    if not isinstance(media_type, str):
        _fail("manifest", "'mediaType' is not a string")
    return media_type


def parse_manifest(raw: bytes, media_type: str) -> dict:
    """An index (`manifests`: descriptors) or an image manifest (`config` and `layers`: descriptors)."""
    if media_type in mediatypes.INDEX_TYPES:
        doc = _object(raw, "index")
        entries = doc.get("manifests") or []
        if not isinstance(entries, list):
            _fail("index", "'manifests' is not a list")
        for i, entry in enumerate(entries):
            _descriptor(entry, "index", f"manifests[{i}]")
            if not isinstance(entry.get("platform") or {}, dict):
                _fail("index", f"manifests[{i}].platform is not an object")
        return doc
    if media_type not in mediatypes.IMAGE_TYPES:
        return _object(raw, "manifest")
    doc = _object(raw, "image manifest")
    _descriptor(doc.get("config"), "image manifest", "'config'")
    layers = doc.get("layers") or []
    if not isinstance(layers, list):
        _fail("image manifest", "'layers' is not a list")
    for i, layer in enumerate(layers):
        _descriptor(layer, "image manifest", f"layers[{i}]")
    return doc


def parse_config(raw: bytes) -> dict:
    """An image config whose `config` (Env, Entrypoint, Cmd) and `rootfs.diff_ids` have their types."""
    doc = _object(raw, "image config")
    container = doc.get("config") or {}
    if not isinstance(container, dict):
        _fail("image config", "'config' is not an object")
    for key in _STRING_LISTS:
        value = container.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            _fail("image config", f"config.{key} is not a list of strings")
    rootfs = doc.get("rootfs") or {}
    if not isinstance(rootfs, dict):
        _fail("image config", "'rootfs' is not an object")
    diff_ids = rootfs.get("diff_ids") or []
    if not (isinstance(diff_ids, list) and all(isinstance(d, str) for d in diff_ids)):
        _fail("image config", "rootfs.diff_ids is not a list of strings")
    if not isinstance(doc.get("history") or [], list):
        _fail("image config", "'history' is not a list")
    return doc
