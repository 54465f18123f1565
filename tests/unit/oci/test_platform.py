import pytest

from oci.errors import InvalidPlatform
from oci.platform import Platform, parse_platform


@pytest.mark.parametrize(
    "value, expected",
    [
        ("amd64", "linux/amd64"),
        ("x86_64", "linux/amd64"),
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("arm64", "linux/arm64"),
        ("aarch64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("LINUX/ARM64", "linux/arm64"),
    ],
)
def test_it_folds_architecture_aliases(value, expected):
    assert str(parse_platform(value)) == expected


@pytest.mark.parametrize("value", ["", "ppc64le", "windows/amd64", "linux/arm/v7", "linux/amd64/v2", "a/b/c/d"])
def test_it_rejects_unsupported_platforms(value):
    with pytest.raises(InvalidPlatform, match=f"Unsupported container platform: {value}"):
        parse_platform(value)


def test_index_entries_match_with_aliases_and_the_v8_variant():
    arm = Platform("linux", "arm64")
    assert arm.matches({"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert arm.matches({"os": "linux", "architecture": "aarch64"})
    assert not arm.matches({"os": "linux", "architecture": "arm64", "variant": "v7"})
    assert not arm.matches({"os": "linux", "architecture": "amd64"})
    assert Platform().matches({"os": "linux", "architecture": "x86_64"})
