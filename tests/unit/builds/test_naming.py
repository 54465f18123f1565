"""Build target names for the three strategies (SPEC section 1)."""

import pytest

from builds.naming import content_hash, sanitise_tag, target_image
from builds.recipes import PackageName, conda_packages, conda_yaml, parse_package_spec

from tests.support.helpers import REGISTRY

H = "5e49881e6ad74121"
REPO = f"{REGISTRY}/hrma017/dev"


def pkgs(*specs):
    return [parse_package_spec(s) for s in specs]


def test_the_reference_example_salmon_bwa():
    assert target_image(REPO, H, pkgs("salmon", "bwa"), None) == f"{REPO}:salmon_bwa--{H}"
    assert target_image(REPO, H, pkgs("salmon", "bwa"), "tagPrefix") == f"{REPO}:salmon_bwa--{H}"


def test_tag_prefix_uses_name_and_version():
    assert target_image(REPO, H, pkgs("bioconda::samtools=1.0", "bwa==0.7.17"), "tagPrefix") == f"{REPO}:samtools-1.0_bwa-0.7.17--{H}"


def test_a_plain_dockerfile_is_tagged_with_the_hash_alone():
    assert target_image(REPO, H, [], "tagPrefix") == f"{REPO}:{H}"
    assert target_image(REPO, H, [], "imageSuffix") == f"{REPO}:{H}"


def test_image_suffix_moves_names_into_the_repository():
    assert target_image(REPO, H, pkgs("salmon", "bwa"), "imageSuffix") == f"{REPO}/salmon_bwa:{H}"
    assert target_image(REPO, H, pkgs("samtools=1.0"), "imageSuffix") == f"{REPO}/samtools:1.0--{H}"
    assert target_image(REPO, H, pkgs("samtools"), "imageSuffix") == f"{REPO}/samtools:{H}"


def test_strategy_none_uses_the_hash():
    assert target_image(REPO, H, pkgs("salmon", "bwa"), "none") == f"{REPO}:{H}"


def test_more_than_five_packages_are_pruned():
    tag = target_image(REPO, H, pkgs("a", "b", "c", "d", "e", "f"), None).rsplit(":", 1)[1]
    assert tag == f"a_b_c_d_pruned--{H}"
    assert target_image(REPO, H, pkgs("a", "b", "c", "d", "e"), None).endswith(f":a_b_c_d_e--{H}")


def test_tags_are_sanitised_and_at_most_80_characters():
    long = [PackageName("x" * 30, "1.0+build*7") for _ in range(4)]
    tag = target_image(REPO, H, long, None).rsplit(":", 1)[1]
    assert len(tag) <= 80 and tag.endswith(f"--{H}")
    assert set(tag) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
    assert sanitise_tag("-a b/c") == "a_b_c"


@pytest.mark.parametrize(
    "spec, name, version",
    [
        ("salmon", "salmon", None),
        ("bioconda::salmon=1.10.0", "salmon", "1.10.0"),
        ("samtools==1.19", "samtools", "1.19"),
        ("bwa>=0.7", "bwa", None),
        ("python=3.11=h123_0", "python", "3.11"),
        ("numpy 1.26", "numpy", "1.26"),
        ("r-base=4.3.*", "r-base", "4.3"),
    ],
)


def test_package_specs(spec, name, version):
    assert parse_package_spec(spec) == PackageName(name, version)


def test_conda_yaml_has_channels_then_dependencies_with_pip_entries_nested():
    text = conda_yaml(["salmon=1.0", "pip:multiqc==1.2"], ["conda-forge", "bioconda"])
    assert text == (
        "channels:\n- conda-forge\n- bioconda\n"
        "dependencies:\n- salmon=1.0\n- pip\n- pip:\n  - multiqc==1.2\n"
    )
    assert conda_packages(text) == [PackageName("salmon", "1.0"), PackageName("pip", None)]


def test_the_content_hash_is_stable_and_order_independent():
    a = content_hash({"containerFile": "FROM x", "platform": "linux/amd64"})
    b = content_hash({"platform": "linux/amd64", "containerFile": "FROM x"})
    assert a == b and len(a) == 16 and int(a, 16) >= 0
    assert a != content_hash({"containerFile": "FROM y", "platform": "linux/amd64"})
