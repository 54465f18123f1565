"""What the layout tests read in a page's HTML: its headings, landmarks, links and form controls."""

from __future__ import annotations

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
