"""Serializer fields that refuse wrong JSON types instead of coercing them, and say what they got."""

from __future__ import annotations

import base64
import binascii
import json
import re

from django.conf import settings
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

_SURROGATE = re.compile("[\ud800-\udfff]")


def shown(value: object, limit: int = 80) -> str:
    """A value as it appears in an error message: JSON, shortened."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _SurrogateValidator(ProhibitSurrogateCharactersValidator):
    """DRF's check as one regex search: its loop over every character took seconds on a 12 MiB
    `data:` layer (and on a gzip bomb's), far more than verifying the layer."""

    def __call__(self, value: object) -> None:
        if match := _SURROGATE.search(str(value)):
            raise serializers.ValidationError(self.message.format(code_point=ord(match.group())), code=self.code)


class StrictCharField(serializers.CharField):
    """A string taken as sent: no coercion of numbers, no trimming (base64 and names are exact)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators = [
            _SurrogateValidator() if isinstance(v, ProhibitSurrogateCharactersValidator) else v for v in self.validators
        ]

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(f"must be a string, not {shown(data)}")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError(f"must be true or false, not {shown(data)}")
        return data


class StrictIntegerField(serializers.IntegerField):
    """An integer, or a string of digits (the reference types some ids and sizes as strings)."""

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool) or not (isinstance(data, int) or (isinstance(data, str) and data.isdigit())):
            raise serializers.ValidationError(f"must be an integer, not {shown(data)}")
        return super().to_internal_value(int(data))


class StringListField(serializers.ListField):
    child = StrictCharField(allow_blank=True, trim_whitespace=False)

    def to_internal_value(self, data: object) -> list[str]:
        if not isinstance(data, list):
            raise serializers.ValidationError(f"must be a list of strings, not {shown(data)}")
        if len(data) > settings.WAVE_MAX_LIST_ENTRIES:
            raise serializers.ValidationError(
                f"has {len(data)} entries, more than the {settings.WAVE_MAX_LIST_ENTRIES} allowed (WAVE_MAX_LIST_ENTRIES)"
            )
        bad = [item for item in data if not isinstance(item, str)]
        if bad:
            raise serializers.ValidationError(f"must be a list of strings; {shown(bad[0])} is not a string")
        return super().to_internal_value(data)


def decode_base64(value: str, attribute: str, limit: int) -> str:
    """Strict base64 (re-encoding gives the same string) of UTF-8 text without NUL, at most `limit` bytes long."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or base64.b64encode(raw).decode() != value:
        raise serializers.ValidationError(f"Attribute '{attribute}' is not valid base64: '{shown(value, 40)}'")
    if len(raw) > limit:
        raise serializers.ValidationError(
            f"Attribute '{attribute}' is too large: {len(raw)} bytes once decoded, the limit is {limit}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise serializers.ValidationError(f"Attribute '{attribute}' does not decode to UTF-8 text") from None
    if "\x00" in text:  # no text file holds one, and Postgres text columns refuse it
        raise serializers.ValidationError(
            f"Attribute '{attribute}' contains a NUL character (at character {text.index(chr(0))}): it must be text"
        )
    return text
