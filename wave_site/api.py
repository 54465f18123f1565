"""Serializers every API app shares (for the OpenAPI schema): they sit here, below the apps."""

from __future__ import annotations

from rest_framework import serializers


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()
