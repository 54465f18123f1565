"""The conda work of a build, handed to the unprivileged child (builds/conda/child.py) in a folder of
its own under WAVE_CONDA_WORK_DIR, and its result read back: the lock, then the layers or the reason
the build fails. A child that crashes (a rattler panic aborts it) fails the build, not the worker."""

from __future__ import annotations

import collections
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from django.conf import settings

from oci.layer import LayerFile

from ..sandbox.child import build_user, exit_description, open_child_file, owned_dir, read_child_file, root_dir, run_unprivileged
from .plan import CondaPlan
from .solve import SolveError

COPY_CHUNK = 1 << 20


class OutputTail:
    """Passes the child's output on, keeping its last lines to explain a crash."""

    def __init__(self, output: Callable[[str], None]):
        self.output, self.lines, self._partial = output, collections.deque(maxlen=20), ""

    def __call__(self, text: str) -> None:
        self.output(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        self.lines.extend(line.strip() for line in lines if line.strip())

    def summary(self) -> str:
        """A Rust panic's message (the line after `panicked at`), else the last line printed."""
        lines = [*self.lines, *filter(None, [self._partial.strip()])]
        for line, following in zip(lines, lines[1:]):
            if "panicked at" in line:
                return following
        return lines[-1] if lines else "it printed nothing"


def _layers(out: Path, entries: list[dict], user: tuple[int, int], keep: Path) -> list[tuple[str, LayerFile]]:
    """The child's layers, copied in 1 MiB pieces into the worker's own `keep` and hashed on the way
    (the child's folder is gone by the time they are pushed, and the child cannot change a copy)."""
    layers = []
    for number, entry in enumerate(entries):
        name, target, hasher = f"layer-{number}.tar.gz", keep / f"layer-{number}.tar.gz", hashlib.sha256()
        with open_child_file(out, name, user) as source, target.open("xb") as copy:
            while chunk := source.read(COPY_CHUNK):
                hasher.update(chunk)
                copy.write(chunk)
        if f"sha256:{hasher.hexdigest()}" != entry["gzip_digest"]:
            raise SolveError(f"The conda layer {entry['name']} does not have the digest the installer gave it")
        layers.append((entry["name"], LayerFile(target, entry["tar_digest"], entry["gzip_digest"], target.stat().st_size)))
    return layers


def assemble(plan: CondaPlan, output: Callable[[str], None], deadline: float, tick: Callable[[], None],
             on_lock: Callable[[str, str], None], keep: Path) -> list[tuple[str, LayerFile]]:
    """The image's conda layers (name, layer), as files in `keep`; `on_lock(explicit, conda_lock_yaml)` once solved."""
    user = build_user()
    root = root_dir(Path(settings.WAVE_CONDA_WORK_DIR))
    work = Path(tempfile.mkdtemp(dir=root_dir(root / "builds")))
    try:
        job = {"context": plan.context(), "platform": plan.platform, "work": str(work), "cache": str(owned_dir(root / "pkgs", user)),
               "channel_alias": settings.WAVE_CONDA_CHANNEL_ALIAS}
        (work / "job.json").write_text(json.dumps(job))
        owned_dir(work, user)
        tail = OutputTail(output)
        status = run_unprivileged("builds.conda.child", [str(work / "job.json")], work=work, user=user,
                                  output=tail, deadline=deadline, tick=tick)
        if status != 0:
            raise SolveError(f"The conda installer crashed ({exit_description(status)}): {tail.summary()}")
        result = json.loads(read_child_file(work / "out", "result.json", user))
        if result.get("lock"):
            on_lock(result["lock"], result.get("lock_yaml", ""))
        if result.get("error"):
            raise SolveError(result["error"])
        return _layers(work / "out", result["layers"], user, keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)
