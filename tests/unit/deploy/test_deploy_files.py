"""The deployment's files agree with each other and with the code: every variable deploy/compose.yaml
sets is one the settings or the entrypoint read (and the README documents), every *_FILE names a secret
the service mounts and deploy/make-secrets writes, every command is one the entrypoint runs, and the
image carries the tools scripts/stack installs for the service. The deploy test itself
(`scripts/stack deploy-test`) runs them for real."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
ENTRYPOINT = (ROOT / "deploy" / "entrypoint").read_text()
# The stack's packages that only the tests (or the stack's own Debian seeding) use.
TEST_ONLY_PACKAGES = {"podman", "containerd", "chromium", "chromium-driver", "fonts-dejavu-core", "mmdebstrap"}


def settings_variables() -> set[str]:
    source = (ROOT / "wave_site" / "settings.py").read_text()
    return set(re.findall(r'(?:env\.\w+|_secret|_bool|_size)\(\s*"([A-Z][A-Z0-9_]*)"', source))


def entrypoint_variables() -> set[str]:
    return set(re.findall(r"\$\{?(WAVE_[A-Z0-9_]+)", ENTRYPOINT)) | {
        f"{name}_FILE" for name in re.findall(r"password (WAVE_[A-Z_]+)", ENTRYPOINT)
    }


def bash_array(path: Path, name: str) -> set[str]:
    match = re.search(rf"^{name}=\(([^)]*)\)", path.read_text(), re.MULTILINE)
    assert match, f"{name} not found in {path}"
    return set(match[1].split())


def test_every_variable_the_compose_file_sets_is_read_and_documented():
    known = settings_variables() | {f"{name}_FILE" for name in settings_variables()} | entrypoint_variables()
    readme = (ROOT / "README.md").read_text()
    for service, spec in COMPOSE["services"].items():
        for name in spec["environment"]:
            assert name in known, f"{service} sets {name}, which neither the settings nor deploy/entrypoint read"
            base = name.removesuffix("_FILE")
            assert f"`{base}`" in readme or f"`{name}`" in readme, f"{name} ({service}) is not in the README"


def test_every_file_variable_names_a_secret_the_service_mounts_and_make_secrets_writes():
    made = set(re.findall(r"^keep (\w+) ", (ROOT / "deploy" / "make-secrets").read_text(), re.MULTILINE))
    declared = set(COMPOSE["secrets"])
    assert declared == made
    used = set()
    for service, spec in COMPOSE["services"].items():
        mounted = set(spec.get("secrets", []))
        assert mounted <= declared, service
        for name, value in spec["environment"].items():
            if name.endswith("_FILE"):
                assert value.startswith("/run/secrets/") and value.removeprefix("/run/secrets/") in mounted, (service, name)
        used |= mounted
    assert used == declared, f"declared but never mounted: {declared - used}"


def test_the_web_process_gets_no_store_password_and_the_stores_no_app_secret():
    assert "pg_password" not in COMPOSE["services"]["web"]["secrets"]
    assert COMPOSE["services"]["postgres"]["secrets"] == ["pg_password"]
    assert COMPOSE["services"]["redis"]["secrets"] == ["redis_password"]


def test_every_command_is_one_the_entrypoint_runs():
    commands = set(re.findall(r"^  ([a-z]+)\)", ENTRYPOINT, re.MULTILINE))
    for service, spec in COMPOSE["services"].items():
        assert spec["command"][0] in commands, service


def test_the_image_carries_every_tool_the_stack_installs_for_the_service():
    stack = bash_array(ROOT / "scripts" / "stack", "APT_PACKAGES")
    image = bash_array(ROOT / "scripts" / "build-image", "PACKAGES")
    assert stack - TEST_ONLY_PACKAGES - image == set()
