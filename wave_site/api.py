"""What every API app shares (the OpenAPI schema's message, Wave's durations): here, below the apps."""

from __future__ import annotations

from datetime import datetime

from rest_framework import serializers


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What went wrong, naming the offending attribute or value.")


def seconds(start: datetime, end: datetime) -> float:
    """A duration as Wave writes it, seconds with a fraction. Millisecond precision keeps the JSON
    literal in fixed notation (Python writes 0.00005 as 5e-05), so it always has the '.' that makes
    wave-cli read seconds rather than nanoseconds."""
    return round(max((end - start).total_seconds(), 0.0), 3)
