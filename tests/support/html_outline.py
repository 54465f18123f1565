"""What the layout tests read in a page's HTML: its headings, landmarks, links and form controls, and
the check every page in the site's layout passes (`assert_layout`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

CONTROLS = {"input", "select", "textarea"}
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}  # their value or alt is their name


@dataclass
class Outline:
    tags: dict[str, int] = field(default_factory=dict)
    nav_links: list[str] = field(default_factory=list)  # link texts inside <nav>
    unlabelled: list[str] = field(default_factory=list)  # controls no label names
    attrs: list[tuple[str, dict]] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.outline = Outline()
        self.label_for: set[str] = set()
        self.controls: list[tuple[dict, bool]] = []  # (attributes, inside a <label>)
        self.open: list[str] = []
        self.link_text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.outline.tags[tag] = self.outline.tags.get(tag, 0) + 1
        self.outline.attrs.append((tag, attrs))
        if tag == "label" and attrs.get("for"):
            self.label_for.add(attrs["for"])
        if tag in CONTROLS and attrs.get("type", "") not in UNLABELLED_TYPES:
            self.controls.append((attrs, "label" in self.open))
        if tag == "a" and "nav" in self.open:
            self.link_text = []
        if tag not in {"input", "meta", "link", "br", "img", "hr"}:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]
        if tag == "a" and self.link_text is not None:
            self.outline.nav_links.append("".join(self.link_text).strip())
            self.link_text = None

    def handle_data(self, data):
        if self.link_text is not None:
            self.link_text.append(data)


def outline(html: str) -> Outline:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    for attrs, wrapped in parser.controls:
        if not (wrapped or attrs.get("id") in parser.label_for or attrs.get("aria-label") or attrs.get("aria-labelledby")):
            parser.outline.unlabelled.append(attrs.get("name") or attrs.get("id") or "?")
    return parser.outline


def assert_layout(html: str) -> None:
    page = outline(html)
    assert page.tags.get("h1") == 1, "one h1"
    assert page.tags.get("nav") == 1 and page.tags.get("main") == 1
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in page.attrs
    assert any(tag == "a" and a.get("class") == "skip-link" and a["href"] == "#content" for tag, a in page.attrs)
    assert any(tag == "main" and a.get("id") == "content" for tag, a in page.attrs)
    assert re.search(r'<link rel="stylesheet" href="/static/wave/site(\.[0-9a-f]{12})?\.css">', html)
    assert page.unlabelled == [], f"controls without a label: {page.unlabelled}"
