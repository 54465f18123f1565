"""Server-rendered build pages: the list with filters and search, and a build that follows its log live."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.db.models.functions import Length, Right, Substr
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .archive import for_page
from .models import Build, without_large_fields
from .reconcile import as_read
from .visibility import sees_build_private

LOG_SHOWN = 100_000  # characters of a log a page shows (the reference's cut), or a follower gets at once


def visible_builds(user) -> QuerySet[Build]:
    """Operators see every build; anyone else the builds of their org and their own."""
    builds = Build.objects.select_related("user").defer(*without_large_fields())
    if user.is_staff:
        return builds
    return builds.filter(Q(user=user) | Q(org=user.org or "-"))


@login_required
def build_list(request: HttpRequest) -> HttpResponse:
    builds = visible_builds(request.user)
    params = request.GET
    if params.get("status"):
        builds = builds.filter(status=params["status"])
    if params.get("org"):
        builds = builds.filter(org=params["org"])
    if params.get("user"):
        builds = builds.filter(user__username=params["user"])
    if params.get("date"):
        try:
            builds = builds.filter(created_at__date=date.fromisoformat(params["date"]))
        except ValueError:
            builds = builds.none()
    if params.get("q"):
        builds = builds.filter(Q(id__icontains=params["q"]) | Q(target_image__icontains=params["q"]))
    page = Paginator(builds.order_by("-created_at"), 50).get_page(params.get("page"))
    return render(request, "pages/build_list.html", {"page": page, "params": params, "statuses": Build.Status.values})


def _build_for(request: HttpRequest, build_id: str, **log_parts) -> tuple[Build, bool]:
    """The build, public by id (builds/visibility.py), and whether this user sees its private side."""
    build = as_read(Build.objects.select_related("user").defer(*without_large_fields()).annotate(
        log_size=Length("log"), **log_parts
    ).filter(pk=build_id).first())
    if build is None:
        raise Http404(f"No build {build_id}")
    return build, sees_build_private(request.user, build)


def build_detail(request: HttpRequest, build_id: str) -> HttpResponse:
    build, private = _build_for(request, build_id, log_shown=Right("log", LOG_SHOWN))
    for_page(build, LOG_SHOWN)
    return render(request, "pages/build_detail.html", {"build": build, "private": private, "log_cut": build.log_size > LOG_SHOWN})


def build_log(request: HttpRequest, build_id: str) -> JsonResponse:
    """The log from `offset` on, for the page's follower; `completed` tells it when to stop. Whoever
    may not read the log follows the status only."""
    try:
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        offset = 0
    build, private = _build_for(request, build_id, log_shown=Substr("log", offset + 1, LOG_SHOWN))
    if private:
        for_page(build, LOG_SHOWN, offset)
    text = build.log_shown if private else ""
    return JsonResponse({"text": text, "offset": offset + len(text), "status": build.status, "completed": build.completed})
