import pytest

from oci.errors import InvalidReference
from oci.reference import Reference, parse_reference, parse_repository


@pytest.mark.parametrize(
    "value, expected",
    [
        ("ubuntu", Reference("docker.io", "library/ubuntu", "latest")),
        ("ubuntu:22.04", Reference("docker.io", "library/ubuntu", "22.04")),
        ("biocontainers/samtools:1.0", Reference("docker.io", "biocontainers/samtools", "1.0")),
        ("docker.io/ubuntu", Reference("docker.io", "library/ubuntu", "latest")),
        ("index.docker.io/library/ubuntu", Reference("docker.io", "library/ubuntu", "latest")),
        ("quay.io/biocontainers/bwa:0.7.17", Reference("quay.io", "biocontainers/bwa", "0.7.17")),
        ("localhost/foo", Reference("localhost", "foo", "latest")),
        ("localhost:5555/library/busybox:latest", Reference("localhost:5555", "library/busybox", "latest")),
        ("127.0.0.1:5555/a/b/c:v1.2_x", Reference("127.0.0.1:5555", "a/b/c", "v1.2_x")),
        ("ubuntu@sha256:" + "a" * 64, Reference("docker.io", "library/ubuntu", None, "sha256:" + "a" * 64)),
        ("ubuntu:22.04@sha256:" + "b" * 64, Reference("docker.io", "library/ubuntu", "22.04", "sha256:" + "b" * 64)),
        ("a__b/c-d.e:tag", Reference("docker.io", "a__b/c-d.e", "tag")),
    ],
)
def test_it_parses_references_with_the_docker_hub_rules(value, expected):
    assert parse_reference(value) == expected


def test_a_digest_reference_keeps_its_digest_in_the_name():
    ref = parse_reference("ubuntu@sha256:" + "c" * 64)
    assert ref.path_and_reference == "library/ubuntu@sha256:" + "c" * 64
    assert ref.reference == "sha256:" + "c" * 64


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("Ubuntu", "'Ubuntu' is not a valid name component"),
        ("ubuntu:", "Invalid tag ''"),
        ("ubuntu:-x", "Invalid tag '-x'"),
        ("https://quay.io/foo", "scheme"),
        ("ubuntu@sha256:abc", "Invalid digest 'sha256:abc'"),
        ("quay.io/", "Invalid image name"),
        ("foo//bar", "'' is not a valid name component"),
        ("", "Invalid image reference ''"),
        ("exa mple/x", "not a valid name component"),
    ],
)
def test_it_rejects_bad_references_quoting_the_value(value, fragment):
    with pytest.raises(InvalidReference) as err:
        parse_reference(value)
    assert fragment in str(err.value)


def test_it_parses_repositories_with_a_registry_host():
    repo = parse_repository("localhost:5555/wave/builds")
    assert (repo.registry, repo.path) == ("localhost:5555", "wave/builds")


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("wave/builds", "must start with a registry host"),
        ("localhost:5555/wave/builds:tag", "must not have a tag"),
        ("https://localhost:5555/wave", "scheme"),
        ("quay.io/Upper", "not a valid name component"),
    ],
)
def test_it_rejects_bad_repositories(value, fragment):
    with pytest.raises(InvalidReference) as err:
        parse_repository(value)
    assert fragment in str(err.value)
