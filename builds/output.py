"""A builder's output on its way to the log: whole lines, with the worker's paths and the build's
secrets rewritten, and the line that best explains a failure kept for the build's reason."""

from __future__ import annotations

import re
import time

from .logs import BuildLog, without_nul
from .sandbox.egress import UNREACHABLE

LONGEST_LINE = 65536  # output with no newline is passed on in pieces of this size
DISK_FULL = "no space left on device"
_UNREACHABLE_LINE = re.compile(re.escape(UNREACHABLE) + r" (?P<registry>\S+) \((?P<why>.*), \d+ times\)$")
# buildah failing to pull a FROM image (a public one, for Wave's templates), and the sandbox saying why.
_UNPULLED = re.compile(r"initializing source docker://(?P<image>\S+?): ")
_REFUSED = "Refused by the build sandbox's egress policy: builder: "
# buildah's step markers ("STEP 2/3: RUN make"), timed as the worker reads them (the log keeps no times).
_STEP = re.compile(r"^STEP \d+/\d+: ")
MAX_STEPS, MAX_STEP_TEXT = 1000, 300  # a build's output can print lines that look like steps: bounded
LOG_LINE = "[a line of its log, shown to its owner's organisation and operators]"


class BuildOutput:
    def __init__(self, log: BuildLog, rewrites: dict[str, str]):
        self.log = log
        self.last_error = ""  # the builder's last `error ...`/`fatal ...` line
        self.disk_full = ""  # the first line that says the disk is full: the cause, not a consequence
        self.unreachable: dict[str, str] = {}  # registry -> why the sandbox could not reach it
        self.refused = ""  # the sandbox's first refusal of a builder's connection
        self.steps: list[dict] = []  # {"step": "1/2: FROM ...", "at": unix seconds}, recorded with the build's end
        self._rewrites: dict[str, str] = {}
        self._partial = ""
        for old, new in rewrites.items():
            self.rewrite(old, new)

    def rewrite(self, old: str, new: str) -> None:
        """Show `new` wherever the output says `old` (a worker path, a password)."""
        if old:
            self._rewrites[old] = new
            # Longest first, so that a path is rewritten before any folder it is in.
            self._rewrites = dict(sorted(self._rewrites.items(), key=lambda item: -len(item[0])))

    def clean(self, text: str) -> str:
        for old, new in self._rewrites.items():
            text = text.replace(old, new)
        return text

    def __call__(self, text: str) -> None:
        lines = (self._partial + without_nul(text)).split("\n")
        self._partial = lines.pop()
        if len(self._partial) > LONGEST_LINE:
            lines.append(self._partial)
            self._partial = ""
        if lines:
            self.log.write("".join(self._track(self.clean(line)) + "\n" for line in lines))

    def close(self) -> None:
        """Pass on a last line that has no newline."""
        if self._partial:
            self.log.write(self._track(self.clean(self._partial)) + "\n")
            self._partial = ""

    def _track(self, line: str) -> str:
        lowered = line.lower()
        if lowered.startswith(("error", "fatal")):
            self.last_error = line.strip()
        if DISK_FULL in lowered and not self.disk_full:
            self.disk_full = line.strip()
        if match := _UNREACHABLE_LINE.match(line):
            self.unreachable.setdefault(match["registry"], match["why"])
        if line.startswith(_REFUSED) and not self.refused:
            self.refused = line[len(_REFUSED):].strip()
        if _STEP.match(line) and len(self.steps) < MAX_STEPS:
            self.steps.append({"step": line[len("STEP "):][:MAX_STEP_TEXT], "at": round(time.time(), 3)})
        return line

    @property
    def reason(self) -> str:
        return self._reason(lambda line: line)

    @property
    def public_reason(self) -> str:
        """The reason without the log's lines it quotes (they can quote the recipe's commands, and what
        they printed), for whoever may not read the log (builds/visibility.py)."""
        return self._reason(lambda line: LOG_LINE if line else "")

    def _reason(self, quote) -> str:
        if self.disk_full:
            return f"The builder ran out of disk space (no space left on device): {quote(self.disk_full)}"
        for registry, why in self.unreachable.items():
            if registry in self.last_error:  # the builder's own words for it are a bare "EOF"
                return f"Registry '{registry}' could not be reached ({why}): {quote(self.last_error)}"
        if match := _UNPULLED.search(self.last_error):
            why = f" (the build sandbox refused it: {self.refused})" if self.refused else ""
            return (
                f"The image '{match['image']}' could not be pulled{why}: a build can only start from images its "
                f"workers reach (use a reachable image, or a mirror of it). {quote(self.last_error)}"
            )
        return quote(self.last_error)
