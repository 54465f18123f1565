"""The new-container form as the API's request body: the page converts its fields (lines, shell
words, a Dockerfile as text) into the JSON `POST /v1alpha2/container` takes, and the API's own
serializer validates it; its errors are put back next to the field they came from."""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass, field

from django.http import QueryDict

from wave_site.errors import validation_message
from wave_site.fields import shown

KINDS = ("image", "dockerfile", "conda")
# API attribute (its path's first parts) -> the form field that shows its error.
FIELDS = {
    "containerImage": "image", "containerConfig.env": "env", "containerConfig.entrypoint": "entrypoint",
    "containerConfig.cmd": "cmd", "containerConfig.workingDir": "working_dir", "containerConfig": "image",
    "containerFile": "dockerfile", "packages.channels": "channels", "packages": "packages",
    "containerPlatform": "platform", "format": "format", "buildRepository": "build_repository", "freeze": "freeze",
}


class FormError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass
class Form:
    """The submitted values, kept to fill the form again."""

    values: dict[str, str]
    added: list[str] = field(default_factory=list)  # package specs ticked in the no-script search results

    @classmethod
    def from_post(cls, post: QueryDict) -> Form:
        values = {k: post.get(k, "") for k in ("kind", "image", "env", "entrypoint", "cmd", "working_dir", "dockerfile",
                                                "packages", "channels", "platform", "format", "build_repository", "q")}
        values["freeze"] = "on" if post.get("freeze") else ""
        return cls(values, [a for a in post.getlist("add") if a.strip()])

    @property
    def kind(self) -> str:
        kind = self.values.get("kind") or "conda"
        if kind not in KINDS:
            raise FormError("kind", f"Choose what to start from: {', '.join(KINDS)}, not '{shown(kind)}'")
        return kind

    def entries(self) -> list[str]:
        specs = [line.strip() for line in self.values["packages"].splitlines() if line.strip()] + self.added
        return list(dict.fromkeys(specs))

    def with_added(self) -> dict[str, str]:
        """The values, with the ticked search results moved into the package list."""
        return {**self.values, "packages": "\n".join(self.entries())}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _words(name: str, text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise FormError(name, f"'{shown(text)}' is not a list of shell words: {exc}") from None


def api_body(form: Form) -> dict:
    """The request body the API would be sent for these values."""
    v = form.values
    body: dict = {"containerPlatform": v["platform"] or None, "format": v["format"] or None, "freeze": bool(v["freeze"]),
                  "buildRepository": v["build_repository"].strip() or None}
    kind = form.kind
    if kind == "image":
        body["containerImage"] = v["image"].strip() or None
        config = {"env": _lines(v["env"]), "entrypoint": _words("entrypoint", v["entrypoint"]),
                  "cmd": _words("cmd", v["cmd"]), "workingDir": v["working_dir"].strip()}
        if config := {k: c for k, c in config.items() if c}:
            body["containerConfig"] = config
    elif kind == "dockerfile":
        text = v["dockerfile"].replace("\r\n", "\n")  # browsers send CRLF line ends
        body["containerFile"] = base64.b64encode(text.encode()).decode() if text.strip() else None
    else:
        channels = v["channels"].replace(",", " ").split()
        body["packages"] = {"type": "CONDA", "entries": form.entries(), "channels": channels or None}
    return body


def field_of(detail: object) -> str:
    """The form field an API validation error belongs to ("" for the form as a whole)."""
    path, node = [], detail
    while isinstance(node, dict) and node:
        key = next(iter(node))
        if key == "non_field_errors":
            break
        path.append(str(key))
        node = node[key]
    for depth in range(len(path), 0, -1):
        if (name := FIELDS.get(".".join(path[:depth]))) is not None:
            return name
    return ""


def error_of(detail: object) -> FormError:
    return FormError(field_of(detail), validation_message(detail))
