"""/openapi.json documents the API: a valid OpenAPI document, a description for every field and
parameter, the reference's examples, the two security schemes, every error as `{"message"}` and every
429 with its Retry-After header."""

from __future__ import annotations

import copy

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from containers.serializers import ContainerRequestSerializer

# The operations a client can be throttled on (README, Client addresses and throttles): requests and
# inspect (rate limits, refused access tokens), lookups by token (unknown tokens), metrics (passwords).
RATE_LIMITED = [
    ("post", "/v1alpha2/container"),
    ("post", "/container-token"),
    ("post", "/v1alpha1/inspect"),
    ("get", "/v1alpha2/container/{request_id}"),
    ("get", "/v1alpha2/container/{request_id}/status"),
    ("get", "/container-token/{token}"),
    ("get", "/v1alpha2/metrics/builds"),
    ("get", "/v1alpha2/metrics/pulls"),
    ("get", "/v1alpha2/metrics/fusion/pulls"),
]


@pytest.fixture(scope="module")
def schema() -> dict:
    from django.test import Client

    response = Client().get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def undocumented(schema: dict) -> list[str]:
    """Every schema property, parameter and response header without a description, by where it is."""
    missing: list[str] = []

    def walk(node: object, where: str) -> None:
        if not isinstance(node, dict):
            return
        for name, prop in node.get("properties", {}).items():
            if not str(prop.get("description", "")).strip():
                missing.append(f"{where}.{name}")
            walk(prop, f"{where}.{name}")
        for key in ("items", "additionalProperties"):
            walk(node.get(key), f"{where}[]")
        for key in ("allOf", "oneOf", "anyOf"):
            for part in node.get(key, []):
                walk(part, where)

    for name, component in schema["components"]["schemas"].items():
        walk(component, name)
    for method, path, operation in operations(schema):
        where = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            if not str(parameter.get("description", "")).strip():
                missing.append(f"{where} parameter {parameter['name']}")
        bodies = [("request", operation.get("requestBody", {}))] + list(operation.get("responses", {}).items())
        for status, body in bodies:
            for media in body.get("content", {}).values():
                walk(media.get("schema"), f"{where} {status}")
            for header, spec in body.get("headers", {}).items():
                if not spec.get("description"):
                    missing.append(f"{where} {status} header {header}")
    return missing


def test_the_schema_is_a_valid_openapi_document(schema):
    validate(schema)  # raises, naming the offending part, on an invalid document


def test_the_validator_refuses_a_broken_schema(schema):
    broken = copy.deepcopy(schema)
    broken["paths"]["/v1alpha2/container"]["post"]["responses"]["200"].pop("description")
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_field_and_parameter_has_a_description(schema):
    assert undocumented(schema) == []


def test_a_field_without_a_description_is_named(schema):
    stripped = copy.deepcopy(schema)
    components = stripped["components"]["schemas"]
    del components["ContainerRequestRequest"]["properties"]["freeze"]["description"]
    del components["LayerRequest"]["properties"]["gzipSize"]["description"]  # reached through containerConfig.layers
    components["Metric"]["properties"]["count"]["description"] = " "
    for parameter in stripped["paths"]["/v1alpha1/builds/{build_id}"]["get"]["parameters"]:
        parameter.pop("description", None)
    assert undocumented(stripped) == [
        "ContainerRequestRequest.freeze",
        "LayerRequest.gzipSize",
        "Metric.count",
        "GET /v1alpha1/builds/{build_id} parameter build_id",
    ]


def test_field_descriptions_take_the_references_words(schema):
    request = schema["components"]["schemas"]["ContainerRequestRequest"]["properties"]
    assert request["nameStrategy"]["description"] == (
        "The name strategy to be used to create the name of the container built by Wave. "
        "Its values can be none, tagPrefix, or imageSuffix."
    )
    assert request["buildRepository"]["description"].startswith("Container repository where container builds should be pushed")


@pytest.mark.parametrize("method, path", RATE_LIMITED)
def test_each_rate_limited_operation_documents_its_429_with_retry_after(schema, method, path):
    response = schema["paths"][path][method]["responses"]["429"]
    assert response["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Message"}


def test_every_429_in_the_schema_carries_retry_after(schema):
    throttled = [(m, p) for m, p, op in operations(schema) if "429" in op["responses"]]
    assert sorted(throttled) == sorted(RATE_LIMITED)
    assert all("Retry-After" in schema["paths"][p][m]["responses"]["429"]["headers"] for m, p in throttled)


def test_every_error_response_is_a_message(schema):
    for method, path, operation in operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Message"}, (method, path, status)
                assert response["description"], (method, path, status)
    message = schema["components"]["schemas"]["Message"]
    assert message["required"] == ["message"] and message["properties"]["message"]["type"] == "string"


def test_the_security_schemes_are_bearer_tokens_and_basic_auth_for_metrics(schema):
    schemes = schema["components"]["securitySchemes"]
    assert (schemes["apiToken"]["type"], schemes["apiToken"]["scheme"]) == ("http", "bearer")
    assert (schemes["metricsBasicAuth"]["type"], schemes["metricsBasicAuth"]["scheme"]) == ("http", "basic")
    paths = schema["paths"]
    for metric in ("builds", "pulls", "fusion/pulls"):
        # Basic for metrics readers; org managers may also send an API token (for their own org).
        assert paths[f"/v1alpha2/metrics/{metric}"]["get"]["security"] == [{"metricsBasicAuth": []}, {"apiToken": []}]
    # A container request takes a token and works without one (anonymous, with lower limits).
    assert paths["/v1alpha2/container"]["post"]["security"] == [{"apiToken": []}, {}]
    assert {"apiToken": []} in paths["/v1alpha1/builds/{build_id}/logs"]["get"]["security"]


def test_the_references_examples_are_in_the_schema(schema):
    post = schema["paths"]["/v1alpha2/container"]["post"]
    request = post["requestBody"]["content"]["application/json"]["examples"]
    response = post["responses"]["200"]["content"]["application/json"]["examples"]
    assert request["DockerImageWithCondaPackages"]["value"]["packages"]["entries"] == ["salmon", "bwa"]
    assert response["DockerImageWithCondaPackages"]["value"]["buildId"] == "5e49881e6ad74121_1"
    status = schema["paths"]["/v1alpha1/builds/{build_id}/status"]["get"]["responses"]["200"]["content"]["application/json"]
    assert next(iter(status["examples"].values()))["value"]["status"] == "COMPLETED"
    metrics = schema["paths"]["/v1alpha2/metrics/builds"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    assert {"metric": "builds", "count": 18, "orgs": {"seqera.io": 13, "gmail.com": 5}} in [e["value"] for e in metrics.values()]


def test_the_request_example_is_a_request_this_service_accepts(schema):
    example = schema["paths"]["/v1alpha2/container"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    serializer = ContainerRequestSerializer(data=example["DockerImageWithCondaPackages"]["value"], context={})
    assert serializer.is_valid(), serializer.errors


@pytest.fixture
def fresh_windows():
    """This test's rate limits and throttles count from zero (other tests count from 127.0.0.1 too)."""
    import redis
    from django.conf import settings

    store = redis.Redis.from_url(settings.REDIS_URL)
    for pattern in ("wave:ratelimit:*", "wave:throttle:*"):
        for key in store.scan_iter(pattern):
            store.delete(key)


def _answers_until_throttled(send) -> list:
    answers = [send() for _ in range(4)]
    assert answers[-1].status_code == 429, [a.status_code for a in answers]
    return answers


def _as_documented(schema: dict, method: str, path: str, answer) -> None:
    """The answer's status is among the operation's documented ones, with the documented body and headers."""
    documented = schema["paths"][path][method]["responses"]
    assert str(answer.status_code) in documented, (method, path, answer.status_code, sorted(documented))
    response = documented[str(answer.status_code)]
    if response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Message"}:
        assert set(answer.json()) == {"message"} and answer.json()["message"]
    for header, spec in response.get("headers", {}).items():
        if spec.get("required"):
            assert int(answer[header]) >= 1, header


@pytest.mark.django_db
def test_real_throttled_answers_are_as_documented(schema, api, busybox, settings, fresh_windows):
    """Each kind of throttle, provoked: every answer on the way (200, 401, 404, then 429) is documented."""
    import base64

    settings.WAVE_RATE_LIMIT_PULLS_ANONYMOUS = "2/3600"
    settings.WAVE_RATE_LIMIT_TOKEN_MISSES = "2/3600"
    settings.WAVE_RATE_LIMIT_ACCESS_TOKEN_FAILURES = "2/3600"
    settings.WAVE_RATE_LIMIT_LOGIN_FAILURES = "2/3600"
    wrong_password = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"nobody:wrong").decode()}
    provoked = {
        ("post", "/v1alpha2/container"): lambda: api.post("/v1alpha2/container", {"containerImage": busybox}, format="json"),
        ("get", "/v1alpha2/container/{request_id}/status"): lambda: api.get("/v1alpha2/container/000000000000/status"),
        ("post", "/v1alpha1/inspect"): lambda: api.post(
            "/v1alpha1/inspect", {"containerImage": busybox, "towerAccessToken": "not-a-token"}, format="json"
        ),
        ("get", "/v1alpha2/metrics/builds"): lambda: api.get("/v1alpha2/metrics/builds", **wrong_password),
    }
    for (method, path), send in provoked.items():
        for answer in _answers_until_throttled(send):
            _as_documented(schema, method, path, answer)
