from __future__ import annotations

import hashlib
import re

from .errors import InvalidDigest

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: str) -> bool:
    return bool(_DIGEST.match(value))


def parse_digest(value: object) -> str:
    """Return `value` when it is a sha256 digest (`sha256:` and 64 lowercase hex), else raise."""
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise InvalidDigest(f"'{value}' is not a sha256 digest (expected 'sha256:' followed by 64 hex characters)")
    return value
