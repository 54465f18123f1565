"""Singularity (Apptainer) definition files translated into a Dockerfile the builder backend runs.

wave-cli `-s -f <file>` sends a definition file as `containerFile` with `format: sif`. The common
parts have a Dockerfile equivalent; whatever has none is refused with a message naming it, never
dropped:

    Bootstrap: docker / From: <image>   FROM <image>
    %files  <src> [<dest>]               COPY ["<src>", "<dest>"] (sources inside the build context)
    %post [-c <shell>]                   the script copied to /.post.script and run with `<shell> -e -x`,
                                         as Apptainer runs it, then removed
    %environment                         /.singularity.d/env/90-environment.sh (sourced at run time)
    %runscript                           /.singularity.d/runscript
    %labels <key> <value>                LABEL "<key>"="<value>" (and labels.json in the SIF)
    %help                                /.singularity.d/runscript.help (inert text)

The definition file itself is kept as /.singularity.d/Singularity and in the SIF, as Apptainer does.
`%setup` (it runs on the build host), `%test`, `%startscript`, `%pre`, `%app*`, `%arguments`, other
bootstrap agents and other header keywords are refused. Pure: text in, text out.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field

from oci.errors import OciError
from oci.reference import parse_reference

META = ".wave-singularity.d"  # the context folder copied to /.singularity.d
SUPPORTED = ("files", "post", "environment", "runscript", "labels", "help")
HOST_SECTIONS = {"setup": "it runs on the build host, outside the container"}
POST_SCRIPT = ".wave-post.script"  # in the context; /.post.script in the image while it runs
ENVIRONMENT_HEADER = "#!/bin/sh\n# Custom environment shell code should follow\n\n"
# Where a %post script writes variables for run time, as Apptainer tells it.
POST_PREAMBLE = (
    "export SINGULARITY_ENVIRONMENT=/.singularity.d/env/91-environment.sh "
    "APPTAINER_ENVIRONMENT=/.singularity.d/env/91-environment.sh SINGULARITY_ROOTFS=/ APPTAINER_ROOTFS=/\n"
)
_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\s*:(.*)$")
_SECTION = re.compile(r"^%(\S*)(.*)$")
_SHELL = re.compile(r"^/[A-Za-z0-9_./+-]+$")


class DefinitionError(ValueError):
    """The definition file cannot be translated; the message names the offending part."""


@dataclass(frozen=True)
class Translation:
    dockerfile: str
    files: dict[str, dict] = field(default_factory=dict)  # context path -> {"text", "mode"}
    copies: tuple[str, ...] = ()  # the %files sources, relative to the build context


def is_definition(text: str) -> bool:
    """A definition file starts with a header keyword (`Bootstrap: docker`) or a section; a
    Dockerfile starts with an instruction, whose keyword is never followed by a colon."""
    for line in _lines(text):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return bool(_HEADER.match(stripped)) or stripped.startswith("%")
    return False


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _shown(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _parse(text: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Header keywords (lower-cased) and the sections in order: (name, arguments, body)."""
    header: dict[str, str] = {}
    sections: list[tuple[str, str, list[str]]] = []
    for number, line in enumerate(_lines(text), start=1):
        section = _SECTION.match(line)
        if section:
            name = section.group(1).lower()
            if not name:
                raise DefinitionError(f"Line {number} of the definition file starts a section with no name: '{_shown(line)}'")
            sections.append((name, section.group(2).strip(), []))
        elif sections:
            sections[-1][2].append(line)
        elif line.strip() and not line.strip().startswith("#"):
            match = _HEADER.match(line.strip())
            if not match:
                raise DefinitionError(
                    f"Line {number} of the definition file is neither a header keyword ('Key: value') nor a section: '{_shown(line.strip())}'"
                )
            key = match.group(1).lower()
            if key in header:
                raise DefinitionError(f"Header keyword '{match.group(1)}' is given twice in the definition file")
            header[key] = match.group(2).strip()
    return header, [(name, args, "\n".join(body).strip("\n")) for name, args, body in sections]


def _base_image(header: dict[str, str]) -> str:
    for key in header:
        if key not in ("bootstrap", "from"):
            raise DefinitionError(
                f"Header keyword '{key}' is not supported in a definition file here; only 'Bootstrap: docker' and "
                "'From: <image>' are (name the registry in the image)"
            )
    agent = header.get("bootstrap")
    if agent is None:
        raise DefinitionError("The definition file has no 'Bootstrap' header; use 'Bootstrap: docker'")
    if agent.lower() != "docker":
        raise DefinitionError(f"Bootstrap agent '{_shown(agent)}' is not supported; only 'docker' is")
    image = header.get("from", "")
    if not image:
        raise DefinitionError("The definition file has no 'From' header naming the base image")
    try:
        parse_reference(image)
    except OciError as exc:
        raise DefinitionError(f"Header 'From' '{_shown(image)}' is not an image reference: {exc}") from None
    return image


def _context_path(source: str) -> str:
    """A %files source as a path inside the build context, or an error naming it."""
    if source.startswith("/"):
        raise DefinitionError(f"%files source '{_shown(source)}' is an absolute path; sources must be inside the build context")
    if ".." in source.split("/"):
        raise DefinitionError(f"%files source '{_shown(source)}' leaves the build context ('..')")
    normal = posixpath.normpath(source)
    if normal in (".", "") or normal.startswith(META) or normal == POST_SCRIPT:
        raise DefinitionError(f"%files source '{_shown(source)}' must name files of the build context")
    return normal


def _files(body: str) -> list[tuple[str, str]]:
    copies = []
    for line in body.split("\n"):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise DefinitionError(f"%files line '{_shown(line.strip())}' cannot be read: {exc}") from None
        if not words:
            continue
        if len(words) > 2:
            raise DefinitionError(f"%files line '{_shown(line.strip())}' has more than a source and a destination")
        source = _context_path(words[0])
        destination = posixpath.normpath("/" + (words[1] if len(words) == 2 else source).lstrip("/"))
        copies.append((source, destination))
    return copies


def _labels(body: str) -> list[str]:
    lines = []
    for line in body.split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        lines.append(f"LABEL {json.dumps(key, ensure_ascii=False)}={json.dumps(value.strip(), ensure_ascii=False)}")
    return lines


def _post(arguments: str) -> str:
    """The RUN step of %post. The script is a file, not part of the step: the builder's error line
    then names the step on one line, and a long script meets no Dockerfile line limit."""
    shell = "/bin/sh"
    if arguments:
        words = arguments.split()
        if len(words) != 2 or words[0] != "-c" or not _SHELL.match(words[1]):
            raise DefinitionError(f"%post takes only '-c <shell>' (an absolute path), not '{_shown(arguments)}'")
        shell = words[1]
    run = f"{shell} -e -x /.post.script; status=$?; rm -f /.post.script; exit $status"
    return f"COPY {json.dumps([POST_SCRIPT, '/.post.script'])}\nRUN {json.dumps(['/bin/sh', '-c', run])}"


def translate(text: str) -> Translation:
    if "\x00" in text:
        raise DefinitionError("The definition file contains a NUL character")
    header, sections = _parse(text)
    image = _base_image(header)
    bodies: dict[str, list[str]] = {}
    post_arguments = ""
    for name, arguments, body in sections:
        if name in HOST_SECTIONS:
            raise DefinitionError(f"Section '%{name}' is refused: {HOST_SECTIONS[name]}")
        if name not in SUPPORTED:
            raise DefinitionError(
                f"Section '%{_shown(name, 40)}' is not supported; the supported sections are "
                + ", ".join(f"%{s}" for s in SUPPORTED)
            )
        if arguments and name != "post":
            raise DefinitionError(f"Section '%{name}' takes no arguments, not '{_shown(arguments)}'")
        if name == "post" and arguments:
            post_arguments = arguments
        bodies.setdefault(name, []).append(body)  # a repeated section adds to the first, in order
    joined = {name: "\n".join(parts) for name, parts in bodies.items()}

    files = {f"{META}/Singularity": {"text": "\n".join(_lines(text)), "mode": 0o644}}
    files[f"{META}/env/90-environment.sh"] = {"text": ENVIRONMENT_HEADER + joined.get("environment", "") + "\n", "mode": 0o755}
    if "runscript" in joined:
        files[f"{META}/runscript"] = {"text": "#!/bin/sh\n\n" + joined["runscript"] + "\n", "mode": 0o755}
    if "help" in joined:
        files[f"{META}/runscript.help"] = {"text": joined["help"] + "\n", "mode": 0o644}

    copies = _files(joined.get("files", ""))
    lines = [f"FROM {image}"]
    lines += [f"COPY {json.dumps([source, destination], ensure_ascii=False)}" for source, destination in copies]
    lines.append(f"COPY {META}/ /.singularity.d/")
    if joined.get("post", "").strip():
        files[POST_SCRIPT] = {"text": POST_PREAMBLE + joined["post"] + "\n", "mode": 0o644}
        lines.append(_post(post_arguments))
    lines += _labels(joined.get("labels", ""))
    return Translation("\n".join(lines) + "\n", files, tuple(source for source, _ in copies))
