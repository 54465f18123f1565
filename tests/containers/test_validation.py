"""Every validation rule of SPEC section 2 has its message, naming the attribute and the value."""


import pytest

from tests.support.helpers import REGISTRY, b64, post

pytestmark = pytest.mark.django_db


DOCKERFILE = b64(f"FROM {REGISTRY}/library/busybox\nRUN true\n")
LAYER = {"location": "data:" + b64("x"), "gzipDigest": "sha256:" + "a" * 64, "gzipSize": 1, "tarDigest": "sha256:" + "b" * 64}
DIGEST_REF = f"{REGISTRY}/library/busybox@sha256:" + "c" * 64


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "Specify either 'containerImage', 'containerFile' or 'packages'"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerFile": DOCKERFILE}, "'containerImage' and 'containerFile' cannot be used"),
        ({"containerFile": DOCKERFILE, "packages": {"type": "CONDA", "entries": ["bwa"]}}, "'containerFile' and 'packages' cannot be used"),
        ({"containerFile": "not base64!"}, "Attribute 'containerFile' is not valid base64: 'not base64!'"),
        ({"containerFile": "Zm9v\n"}, "Attribute 'containerFile' is not valid base64"),
        ({"containerFile": "Zm9vYg"}, "Attribute 'containerFile' is not valid base64: 'Zm9vYg'"),
        ({"containerFile": b64("A" * 10_001)}, "Attribute 'containerFile' is too large: 10001 bytes once decoded, the limit is 10000"),
        ({"containerFile": b64("FROM x\nCOPY /.docker/config.json /x\n")}, "mentions '/.docker/config.json'"),
        ({"containerFile": b64("FROM x\nRUN ls /kaniko\n")}, "mentions '/kaniko'"),
        ({"containerFile": b64("FROM busybox\nRUN true\x00")}, "Attribute 'containerFile' contains a NUL character (at character 21): it must be text"),
        ({"containerFile": DOCKERFILE, "condaFile": b64("name: x\x00")}, "Attribute 'condaFile' contains a NUL character (at character 7)"),
        ({"packages": {"type": "CONDA", "environment": b64("\x00")}}, "Attribute 'packages.environment' contains a NUL character (at character 0)"),
        ({"packages": {"type": "CONDA", "environment": "%%%"}}, "Attribute 'packages.environment' is not valid base64: '%%%'"),
        ({"packages": {"type": "SPACK", "entries": ["x"]}}, "Spack builds are not supported"),
        ({"packages": {"type": "PIP", "entries": ["x"]}}, "unsupported package type 'PIP'"),
        ({"packages": {"type": "CONDA"}}, "Attribute 'packages' needs 'entries' or 'environment'"),
        ({"spackFile": b64("spack:\n")}, "Attribute 'spackFile' is not supported"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerPlatform": "ppc64le"}, "Unsupported container platform: ppc64le"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerPlatform": "linux/arm/v7"}, "Unsupported container platform: linux/arm/v7"),
        ({"containerFile": DOCKERFILE, "buildRepository": f"https://{REGISTRY}/x"}, f"Invalid repository 'https://{REGISTRY}/x': it must not have a scheme prefix"),
        ({"containerFile": DOCKERFILE, "buildRepository": f"{REGISTRY}/x:tag"}, f"Invalid repository '{REGISTRY}/x:tag': it must not have a tag"),
        ({"containerFile": DOCKERFILE, "cacheRepository": "cache/only"}, "Invalid repository 'cache/only': it must start with a registry host"),
        ({"containerFile": DOCKERFILE, "freeze": True}, "Attribute 'freeze' requires 'buildRepository'"),
        ({"containerFile": DOCKERFILE, "format": "sif"}, "Singularity build is only allowed enabling freeze mode"),
        ({"containerFile": DOCKERFILE, "format": "rpm"}, "unsupported format 'rpm'"),
        ({"containerFile": DOCKERFILE, "nameStrategy": "fancy"}, "Unsupported image naming strategy 'fancy'"),
        ({"containerImage": "Bad Image"}, "Invalid image reference 'Bad Image'"),
        ({"containerImage": DIGEST_REF, "containerConfig": {"env": ["A=1"]}}, "is pinned by digest and cannot be combined with 'containerConfig'"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"env": ["no-equals"]}}, "'containerConfig.env': entries must look like NAME=value, not 'no-equals'"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"workingDir": "rel/dir"}}, "'containerConfig.workingDir': must be an absolute path, not 'rel/dir'"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"layers": [{**LAYER, "location": "ftp://x/l.tgz"}]}}, "'containerConfig.layers[0].location': must be an http(s):// URL or a data: URI, not 'ftp://x/l.tgz'"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"layers": [{**LAYER, "gzipDigest": "md5:1"}]}}, "'containerConfig.layers[0].gzipDigest': 'md5:1' is not a sha256 digest"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"layers": [{**LAYER, "tarDigest": "sha256:XYZ"}]}}, "'containerConfig.layers[0].tarDigest': 'sha256:XYZ' is not a sha256 digest"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"layers": [{**LAYER, "gzipSize": 0}]}}, "'containerConfig.layers[0].gzipSize': must be a positive number of bytes, not 0"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"layers": [{**LAYER, "gzipSize": "many"}]}}, "'containerConfig.layers[0].gzipSize': must be an integer, not many"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"layers": [{**LAYER, "gzipSize": 10**9}]}}, "larger than the 10485760 bytes allowed"),
        ({"containerImage": 42}, "Invalid value for attribute 'containerImage': must be a string, not 42"),
        ({"containerImage": f"{REGISTRY}/a:1", "freeze": "yes"}, "Invalid value for attribute 'freeze': must be true or false, not yes"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"cmd": "echo"}}, "'containerConfig.cmd': must be a list of strings, not echo"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": {"entrypoint": ["sh", 1]}}, "'containerConfig.entrypoint': must be a list of strings; 1 is not a string"),
        ({"containerImage": f"{REGISTRY}/a:1", "containerConfig": "x"}, "'containerConfig': must be an object, not x"),
        ({"containerImage": f"{REGISTRY}/a:1", "towerWorkspaceId": "abc"}, "'towerWorkspaceId': must be an integer, not abc"),
    ],
)


def test_it_rejects_bad_requests_with_a_message(api, body, message):
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400, response.json()
    assert message in response.json()["message"]


def test_v1alpha2_rejects_conda_file(api):
    response = post(api, "/v1alpha2/container", {"condaFile": b64("dependencies: [bwa]\n")})
    assert response.status_code == 400
    assert response.json()["message"] == "Attribute 'condaFile' is not supported by /v1alpha2/container; use 'packages' instead"


@pytest.mark.parametrize("attribute, value", [("packages", {"type": "CONDA", "entries": ["bwa"]}), ("nameStrategy", "none")])
def test_the_legacy_endpoint_rejects_packages_and_name_strategy(api, attribute, value):
    response = post(api, "/container-token", {"containerFile": DOCKERFILE, attribute: value})
    assert response.status_code == 400
    assert response.json()["message"] == f"Attribute '{attribute}' is not supported by /container-token; use /v1alpha2/container"


@pytest.mark.parametrize("raw", [b"{", b"[1,2", b"\xff\xfe", b"null", b"[]", b'"text"', b"42"])
def test_malformed_or_non_object_bodies_are_400(api, raw):
    response = api.post("/v1alpha2/container", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"]


def test_a_non_json_content_type_is_refused(api):
    response = api.post("/v1alpha2/container", "containerImage=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["message"]


def test_unknown_fields_are_ignored(api, busybox):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "somethingNew": {"x": 1}})
    assert response.status_code == 200
