"""`/view/mirrors/<id>`: the page a failed mirror's `detailsUri` names. Public to whoever holds the id,
as Wave's is: it shows images, digests and the copy's log; who asked only to their org and operators."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from builds.visibility import sees_private

from .models import Mirror
from .status import fresh


def mirror_detail(request: HttpRequest, mirror_id: str) -> HttpResponse:
    mirror = Mirror.objects.select_related("user").filter(pk=mirror_id).first()
    if mirror is None:
        raise Http404(f"No mirror {mirror_id}")
    private = sees_private(request.user, mirror.user_id, mirror.org)
    return render(request, "pages/mirror_detail.html", {"m": fresh(mirror), "private": private})
