"""Work folders left under `<WAVE_DATA_DIR>/builds` when a build's janitor could not remove them (the
janitor was killed too, or the machine stopped): a housekeeping task, run on each worker host.

The janitor (`builds/janitor.py`) removes a build's folder as the build ends, however it ends; this
task is its backstop, not a second cleaner. A folder named `<build id>-…` (the janitor's) goes once
its build has ended (or no build has that id) and it is `WAVE_WORK_FOLDER_GRACE` seconds old, so the
janitor finishing now is never raced. Other folders (the conda steps' temporary ones) go once they
are older than any build may run (`WAVE_BUILD_TIMEOUT`) plus that grace. At most `WAVE_COLLECT_BATCH`
folders a round; two housekeepers removing the same folder is harmless.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from django.conf import settings

from .models import Build

_ENDED = (Build.Status.SUCCEEDED, Build.Status.FAILED)


def work_root() -> Path:
    return Path(settings.WAVE_DATA_DIR) / "builds"


def _stale(folders: list[Path]) -> list[Path]:
    grace = settings.WAVE_WORK_FOLDER_GRACE
    now = time.time()
    ages = {}
    for folder in folders:
        try:
            ages[folder] = now - folder.stat().st_mtime
        except FileNotFoundError:  # removed meanwhile (its janitor, another housekeeper)
            continue
    named = {folder: folder.name.rsplit("-", 1)[0] for folder in folders if "-" in folder.name}
    running = set(
        Build.objects.filter(pk__in=set(named.values())).exclude(status__in=_ENDED).values_list("pk", flat=True)
    )
    stale = []
    for folder, age in ages.items():
        if folder in named and named[folder] not in running and age > grace:
            stale.append(folder)  # (a folder named after no known build is no build's to keep)
        elif folder not in named and age > settings.WAVE_BUILD_TIMEOUT + grace:
            stale.append(folder)
    return stale


def collect_work_folders() -> int:
    """Remove one batch of work folders no running build uses; returns how many."""
    root = work_root()
    if not root.is_dir():
        return 0
    folders = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    removed = 0
    for folder in _stale(folders)[: settings.WAVE_COLLECT_BATCH]:
        shutil.rmtree(folder, ignore_errors=True)
        removed += not folder.exists()
    return removed
