"""A build's log as its page shows it: a span per line carrying the time its worker read it (from the
log's time marks, builds/logs.py), the first error line of a failed build marked to scroll to."""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right

from django.utils.safestring import SafeString, mark_safe

# An error line as builds/output.py finds the reason's (a line that starts with "error" or "fatal");
# build.js uses the same pattern on what it follows.
ERROR_LINE = re.compile(r"^(?:error|fatal).*$", re.MULTILINE | re.IGNORECASE)


def clock(when: float) -> str:
    """HH:MM:SS UTC of unix seconds (by arithmetic: a page can show thousands; UTC has no leap seconds)."""
    seconds = int(when) % 86400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def marks_in(log_times: list, start: int, end: int) -> list[tuple[int, str]]:
    """The marks for the log's characters `start` to `end`, as (offset from `start`, HH:MM:SS UTC); the
    mark in force at `start` counts from 0."""
    first = max(bisect_right(log_times, start, key=lambda mark: mark[0]) - 1, 0)
    last = bisect_left(log_times, end, key=lambda mark: mark[0])
    return [(max(offset - start, 0), clock(when)) for offset, when in log_times[first:last]]


def lines(text: str) -> list[str]:
    """The text's lines, each with its newline (the last one may have none)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def log_html(text: str, marks: list[tuple[int, str]], failed: bool) -> tuple[SafeString, bool]:
    """The log's lines as spans with their times in `data-t` ("" before the first mark), and whether a
    failed build's first error line is among them (then a `mark#error-line`)."""
    error = ERROR_LINE.search(text) if failed else None
    # Escaped at once (a line at a time is ten times slower on a log of short lines); escaping keeps the
    # newlines, so the escaped lines pair with the text's, whose lengths count the marks' offsets.
    parts, position, shown, current = [], 0, 0, ""
    for line, escaped in zip(lines(text), lines(html.escape(text))):
        while shown < len(marks) and marks[shown][0] <= position:
            current, shown = marks[shown][1], shown + 1
        if error and position == error.start():
            parts.append(f'<mark id="error-line" data-t="{current}">{escaped}</mark>')
        else:
            parts.append(f'<span data-t="{current}">{escaped}</span>')
        position += len(line)
    return mark_safe("".join(parts)), error is not None
