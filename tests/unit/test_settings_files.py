"""Settings given as NAME_FILE (Docker/Kubernetes secrets) and the strict DEBUG flag, read by a fresh
interpreter: settings are computed once, at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import json; from wave_site import settings as s; print(json.dumps({'secret': s.SECRET_KEY, "
    "'keys': s.WAVE_CREDENTIALS_KEYS, 'registries': {h: [c.username, c.password] for h, c in s.WAVE_REGISTRY_CREDENTIALS.items()}, "
    "'db': [s.DATABASES['default']['NAME'], s.DATABASES['default']['PASSWORD']], 'redis': s.REDIS_URL, 'debug': s.DEBUG}))"
)


def settings_with(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.endswith("_FILE") and k not in variables}
    environment.update(variables, WAVE_ENV_FILE=str(tmp_path / "absent.env"))
    return subprocess.run([sys.executable, "-c", READ], cwd=ROOT, env=environment, capture_output=True, text=True)


def test_secrets_come_from_files_without_their_closing_line_break(tmp_path):
    files = {
        "SECRET_KEY": "from-a-file\n",
        "WAVE_CREDENTIALS_KEYS": "key-one,key-two\n",
        "WAVE_REGISTRY_CREDENTIALS": "registry.example=robot:p@ss\n",
        "DATABASE_URL": "postgres://wave_app:db-secret@db.example:5432/wave\n",
        "REDIS_URL": "redis://wave:redis-secret@redis.example:6379/0\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    answer = settings_with(tmp_path, SECRET_KEY="from-the-environment", **{f"{n}_FILE": str(tmp_path / n) for n in files})
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == {
        "secret": "from-a-file",
        "keys": ["key-one", "key-two"],
        "registries": {"registry.example": ["robot", "p@ss"]},
        "db": ["wave", "db-secret"],
        "redis": "redis://wave:redis-secret@redis.example:6379/0",
        "debug": False,
    }


def test_debug_takes_true_false_1_0_yes_no_and_refuses_anything_else(tmp_path):
    for raw, expected in [("true", True), ("False", False), ("1", True), ("0", False), ("yes", True), ("no", False)]:
        answer = settings_with(tmp_path, DEBUG=raw)
        assert answer.returncode == 0, answer.stderr
        assert json.loads(answer.stdout)["debug"] is expected, raw
    answer = settings_with(tmp_path, DEBUG="on")
    assert answer.returncode != 0
    assert "DEBUG must be true or false, not 'on'" in answer.stderr
