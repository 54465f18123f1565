"""The housekeeper's backstop for work folders a killed janitor left: an ended build's folder goes
after the grace period, a running build's stays, and unnamed temporary folders go only once older
than any build may run."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from builds.models import Build
from builds.workdirs import collect_work_folders
from tests.support.factories import BuildFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings, tmp_path):
    settings.WAVE_DATA_DIR = tmp_path
    settings.WAVE_WORK_FOLDER_GRACE, settings.WAVE_BUILD_TIMEOUT = 3600, 900
    (tmp_path / "builds").mkdir()
    return tmp_path / "builds"


def build(status: str) -> Build:
    content_hash = uuid.uuid4().hex[:16]
    return BuildFactory(content_hash=content_hash, status=status)


def folder(root, name: str, age: float):
    path = root / name
    (path / "context").mkdir(parents=True)
    (path / "auth.json").write_text("{}")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_ended_builds_folders_go_after_the_grace_period_and_running_ones_stay(root):
    ended, running, failed = build(Build.Status.SUCCEEDED), build(Build.Status.RUNNING), build(Build.Status.FAILED)
    old_ended = folder(root, f"{ended.id}-abc123", 4000)
    young_failed = folder(root, f"{failed.id}-def456", 60)
    old_running = folder(root, f"{running.id}-ghi789", 4000)
    unknown = folder(root, "0123456789abcdef_9-zzz", 4000)
    assert collect_work_folders() == 2
    assert not old_ended.exists() and not unknown.exists()
    assert young_failed.exists() and old_running.exists()


def test_unnamed_temporary_folders_go_only_past_the_longest_build(root):
    recent = folder(root, "tmpab12cd", 3600 + 900 - 60)
    stale = folder(root, "tmpef34gh", 3600 + 900 + 60)
    assert collect_work_folders() == 1
    assert recent.exists() and not stale.exists()


def test_each_round_removes_one_batch(root, settings):
    settings.WAVE_COLLECT_BATCH = 2
    ended = build(Build.Status.SUCCEEDED)
    for i in range(3):
        folder(root, f"{ended.id}-{i}x", 4000)
    assert [collect_work_folders() for _ in range(3)] == [2, 1, 0]
