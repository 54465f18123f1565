"""Generated bad (and some good) bodies for the schema-described POST endpoints: never a 500.

The attribute names come from the OpenAPI schema; values are arbitrary JSON. Values that would make
the service contact a host off this machine are pointed at loopback instead.
"""

from __future__ import annotations

import base64
import json
import os
import re

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings, strategies as st

from oci.errors import OciError
from oci.reference import parse_reference, parse_repository

from tests.support.helpers import REGISTRY

pytestmark = pytest.mark.django_db

# What JSON can carry but Postgres and Python cannot take: NUL, lone surrogates (json.dumps writes
# them as \u escapes), and, through markers replaced in the encoded text, numbers out of a float's
# range and nesting deep enough for the decoder's recursion limit.
hostile_text = st.text(alphabet=st.sampled_from(["a", "/", "\x00", "\ud800", "\udfff", "é", "\U0001f600"]), max_size=8)
RAW = {f"__raw{i}__": raw for i, raw in enumerate(["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1e-400", "9" * 5000, "1" + "0" * 400])}
deep = st.integers(20, 3000).map(lambda depth: f"__deep{depth}__")
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=40),
    st.sampled_from(["", "linux/arm64", "CONDA", "SPACK", "sif", "imageSuffix", "Zm9v", "data:AAAA", "sha256:" + "a" * 64]),
    hostile_text, st.sampled_from(sorted(RAW)), deep,
)
json_key = st.text(max_size=12) | hostile_text
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_key, inner, max_size=4), max_leaves=12)


def encoded(value: object) -> bytes:
    """JSON text with the markers replaced by what json.dumps cannot write."""
    text = json.dumps(value)
    for marker, raw in RAW.items():
        text = text.replace(f'"{marker}"', raw)
    return re.sub(r'"__deep(\d+)__"', lambda m: "[" * int(m[1]) + "]" * int(m[1]), text).encode()


def schema_properties(path: str) -> dict:
    schema = Client().get("/openapi.json").json()
    ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]


def _loopback(value: object, parse) -> object:
    if not isinstance(value, str):
        return value
    try:
        registry = parse(value).registry
    except OciError:
        return value
    return value if registry.startswith(("localhost", "127.")) else f"{REGISTRY}/fuzz/x"


def keep_on_loopback(body: dict) -> dict:
    body["containerImage"] = _loopback(body.get("containerImage"), parse_reference)
    body["buildRepository"] = _loopback(body.get("buildRepository"), parse_repository)
    config = body.get("containerConfig")
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        for layer in config["layers"]:
            if isinstance(layer, dict) and isinstance(layer.get("location"), str) and layer["location"].startswith("http"):
                layer["location"] = "http://127.0.0.1:1/layer.tar.gz"
    return {k: v for k, v in body.items() if v is not None or k not in ("containerImage", "buildRepository")}


# Valid values mixed in so that generated requests also get past validation into the services.
GOOD = {
    "containerImage": [f"{REGISTRY}/library/busybox:latest", f"{REGISTRY}/library/busybox@sha256:" + "0" * 64],
    "containerFile": [base64.b64encode(f"FROM {REGISTRY}/library/busybox\nRUN true\n".encode()).decode()],
    "packages": [{"type": "CONDA", "entries": ["bwa", "pip:x"]}, {"type": "CONDA", "environment": "ZGVwZW5kZW5jaWVzOiBbYV0K"}],
    "containerConfig": [{"env": ["A=1"], "cmd": ["sh"], "layers": [{"location": "data:AAAA", "gzipDigest": "sha256:" + "a" * 64, "gzipSize": 3, "tarDigest": "sha256:" + "b" * 64}]}],
    "buildRepository": [f"{REGISTRY}/fuzz/repo"],
    "freeze": [True, False],
    "dryRun": [True],
    "towerWorkspaceId": [1, "2"],
}


def value_for(key: str):
    return json_value | st.sampled_from(GOOD[key]) if key in GOOD else json_value


def bodies(path: str):
    keys = sorted(schema_properties(path)) + ["unknownAttribute"]
    chosen = st.lists(st.sampled_from(keys), unique=True, max_size=8)
    return chosen.flatmap(lambda ks: st.fixed_dictionaries({k: value_for(k) for k in ks})).map(keep_on_loopback)


def check(client: Client, path: str, body) -> None:
    response = client.post(path, encoded(body), content_type="application/json")
    assert response.status_code < 500, (body, response.content[:500])
    if response.status_code >= 400:
        assert isinstance(response.json().get("message"), str) and response.json()["message"]


FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None, print_blob=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("path", ["/v1alpha2/container", "/container-token", "/v1alpha1/inspect"])
def test_generated_bodies_never_give_a_500(path):
    client = Client(raise_request_exception=True)

    @FUZZ
    @given(body=bodies(path))
    def run(body):
        check(client, path, body)

    run()


@FUZZ
@given(raw=st.binary(max_size=200) | json_value.map(encoded))
def test_arbitrary_bytes_never_give_a_500(raw):
    response = Client(raise_request_exception=True).post("/v1alpha2/container", raw, content_type="application/json")
    assert response.status_code < 500
