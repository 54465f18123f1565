"""Build queues per platform: their names, and WAVE_WORKER_PLATFORMS read by a fresh interpreter
(settings are computed once, at import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from builds.platforms import queue_name, worker_platforms

ROOT = Path(__file__).resolve().parents[3]
READ = "import json; from wave_site import settings as s; print(json.dumps([s.WAVE_WORKER_PLATFORMS, sorted(s.RQ_QUEUES)]))"


def settings_with(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **variables, "WAVE_ENV_FILE": str(tmp_path / "absent.env")}
    return subprocess.run([sys.executable, "-c", READ], cwd=ROOT, env=environment, capture_output=True, text=True)


@pytest.mark.parametrize("platform", ["linux/arm64", "arm64", "linux/arm64/v8", "aarch64", "LINUX/ARM64"])
def test_every_spelling_of_a_platform_shares_its_queue(platform):
    assert queue_name("default", platform) == "default-linux-arm64"


def test_worker_platforms_are_read_once_each_and_a_wrong_one_is_named():
    assert worker_platforms(["x86_64", " linux/arm64 ", "linux/amd64"]) == ["linux/amd64", "linux/arm64"]
    with pytest.raises(ValueError, match="WAVE_WORKER_PLATFORMS: 'linux/s390x' is not one of linux/amd64, linux/arm64"):
        worker_platforms(["linux/amd64", "linux/s390x"])


def test_the_settings_name_a_queue_per_platform_and_refuse_an_unknown_platform(tmp_path):
    answer = settings_with(tmp_path, WAVE_WORKER_PLATFORMS="linux/arm64", WAVE_BUILD_QUEUE="builds")
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == [["linux/arm64"], ["builds", "builds-linux-amd64", "builds-linux-arm64", "default"]]
    refused = settings_with(tmp_path, WAVE_WORKER_PLATFORMS="windows/amd64")
    assert refused.returncode != 0 and "WAVE_WORKER_PLATFORMS: 'windows/amd64' is not one of" in refused.stderr
