"""Server-rendered pages for container tokens and inspecting images."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.identity import Identity
from builds.models import without_large_fields
from builds.visibility import sees_private
from metrics.models import PullEvent
from oci.errors import OciError
from oci.platform import parse_platform
from wave_site.errors import DomainError

from .inspect import inspect_image
from .models import ContainerRequest


def token_detail(request: HttpRequest, token: str) -> HttpResponse:
    """Public by request id, as Wave's page; its private side as for builds (builds/visibility.py)."""
    container = ContainerRequest.objects.select_related("build", "user").defer(*without_large_fields("build__")).filter(token=token).first()
    if container is None:
        raise Http404(f"No container token {token}")
    context = {"c": container, "private": sees_private(request.user, container.user_id, container.org)}
    if context["private"]:
        context["config"] = json.dumps(container.container_config, indent=2) if container.container_config else ""
        context["pulls"] = PullEvent.objects.filter(token=token).count()
    return render(request, "pages/token_detail.html", context)


@login_required
def inspect_form(request: HttpRequest) -> HttpResponse:
    image, platform, result, error = request.GET.get("image", "").strip(), request.GET.get("platform", "").strip(), None, ""
    if image:
        try:
            result = inspect_image(Identity(request.user), image, parse_platform(platform) if platform else None)
        except (DomainError, OciError) as exc:
            error = str(exc)
    context = {"image": image, "platform": platform, "error": error}
    if result and "container" in result:
        container = result["container"]
        context.update(container=container, manifest=json.dumps(container["manifest"], indent=2), config=json.dumps(container["config"], indent=2))
    elif result:
        context["index"] = json.dumps(result["index"], indent=2)
    return render(request, "pages/inspect.html", context)
