"""Request bodies exactly as the real clients build them, one JSON file per body in `bodies/`.

Each file is `{"source": "<repository> <path> (<function>)", "body": {...}}`: `source` names the client
source file the body was read from; `body` keeps every attribute the client writes, nulls included
(Nextflow's Groovy JsonOutput writes unset properties as null; wave-cli's Moshi drops them). A test
loads a body and replaces only the values that must point at this machine (the image, the layers, the
build repository), never the shape.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

HERE = Path(__file__).parent / "bodies"


def client_body(name: str, **replace) -> dict:
    """The body stored as `bodies/<name>.json`, with the given top-level attributes replaced."""
    data = json.loads((HERE / f"{name}.json").read_text())
    assert data.get("source"), f"{name}.json must name the client source it came from"
    body = copy.deepcopy(data["body"])
    for key, value in replace.items():
        assert key in body, f"{name}.json has no attribute {key!r} to replace"
        body[key] = value
    return body
