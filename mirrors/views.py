from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ViewSet

from wave_site.openapi import NOT_FOUND
from wave_site.errors import NotFound

from .models import Mirror
from .status import fresh, mirror_result

RESULT = inline_serializer("MirrorResult", {
    "mirrorId": serializers.CharField(help_text="The mirror's id."),
    "digest": serializers.CharField(help_text="The digest of the image copied."),
    "sourceImage": serializers.CharField(help_text="The image copied (the request's containerImage)."),
    "targetImage": serializers.CharField(help_text="Where it is copied to, in the request's buildRepository."),
    "platform": serializers.CharField(required=False, help_text="The platform copied, e.g. linux/amd64."),
    "creationTime": serializers.DateTimeField(help_text="When the mirror was requested (ISO-8601)."),
    "status": serializers.ChoiceField(["PENDING", "COMPLETED"], help_text="PENDING or COMPLETED."),
    "duration": serializers.FloatField(required=False, help_text="The copy's duration in seconds, once COMPLETED."),
    "exitCode": serializers.IntegerField(required=False, help_text="0 when the copy succeeded, once COMPLETED."),
    "logs": serializers.CharField(required=False, help_text="The copy's log."),
    "reason": serializers.CharField(required=False, help_text="Why the copy failed."),
})


def _mirror(mirror_id: str) -> Mirror:
    mirror = Mirror.objects.filter(pk=mirror_id).first()
    if mirror is None:
        raise NotFound(f"Unknown mirror '{mirror_id}'")
    return fresh(mirror)


# /v1alpha1/mirrors/{mirror_id}: a mirror's record and its log.
class MirrorViewSet(ViewSet):
    lookup_url_kwarg = "mirror_id"
    route_names = {"detail": "Mirror"}

    @extend_schema(responses={200: RESULT, 404: NOT_FOUND}, summary="A mirror's record (Wave's MirrorResult)")
    def retrieve(self, request: Request, mirror_id: str) -> Response:
        return Response(mirror_result(_mirror(mirror_id)))

    @extend_schema(responses={(200, "text/plain"): str, 404: NOT_FOUND}, summary="A mirror's log")
    @action(detail=True, name="Mirror Logs")
    def logs(self, request: Request, mirror_id: str) -> HttpResponse:
        mirror = _mirror(mirror_id)
        if not mirror.log:
            raise NotFound(f"Mirror '{mirror_id}' has no log yet")
        response = HttpResponse(mirror.log, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{mirror.id}.log"'
        return response
