"""The API's JSON parser: a body Postgres or Python cannot take is a 400 here, never a 500 later.

DRF's parser turns only `ValueError` into a 400. Refused on top of that, anywhere in the body (keys
included, unknown attributes too, since the request is stored as `jsonb`): nesting deeper than
`WAVE_MAX_JSON_DEPTH` (deep enough nesting is a `RecursionError` in the decoder), NUL characters
(`jsonb` and text columns refuse them), lone surrogates (not encodable as UTF-8) and numbers that
are not finite (`NaN`, `Infinity`, and `1e400`, which Python reads as infinity).
"""

from __future__ import annotations

import json
import math
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .fields import shown

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {shown(text, 40)} is out of range")
    return value


def _constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _shown_path(path: str) -> str:
    """A path for a message: its keys may hold the very characters refused (escaped here)."""
    return shown(path.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00") or "$")


def _check_text(text: str, path: str) -> None:
    if match := _UNSTORABLE.search(text):
        what = "a NUL character" if match.group() == "\x00" else "a lone surrogate (not UTF-8)"
        raise ParseError(f"the string at '{_shown_path(path)}' contains {what}")


def _check(value: object, path: str, depth: int, limit: int) -> None:
    if isinstance(value, (dict, list)):
        if depth >= limit:
            raise ParseError(f"the body is nested deeper than {limit} levels (at '{_shown_path(path)}')")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                _check_text(key, f"{path}.{key}" if path else key)
            inner = f"{path}[{key}]" if isinstance(value, list) else f"{path}.{key}" if path else key
            _check(item, inner, depth + 1, limit)
    elif isinstance(value, str):
        _check_text(value, path)


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(stream.read().decode(encoding), parse_float=_number, parse_constant=_constant)
        except RecursionError:
            raise ParseError(f"the body is nested deeper than {settings.WAVE_MAX_JSON_DEPTH} levels") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge integers
            raise ParseError(f"JSON parse error - {exc}") from None
        _check(data, "", 0, settings.WAVE_MAX_JSON_DEPTH)
        return data
