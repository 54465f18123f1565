"""Server-rendered build pages: the list with filters and search, and a build that follows its log live."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .models import Build
from .reconcile import reap_stale_builds


def visible_builds(user) -> QuerySet[Build]:
    """Operators see every build; anyone else the builds of their org and their own."""
    builds = Build.objects.select_related("user")
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


def _build_for(request: HttpRequest, build_id: str) -> Build:
    reap_stale_builds(build_id)
    build = visible_builds(request.user).filter(pk=build_id).first()
    if build is None:
        raise Http404(f"No build {build_id}")
    return build


@login_required
def build_detail(request: HttpRequest, build_id: str) -> HttpResponse:
    return render(request, "pages/build_detail.html", {"build": _build_for(request, build_id)})


@login_required
def build_log(request: HttpRequest, build_id: str) -> JsonResponse:
    """The log from `offset` on, for the page's follower; `completed` tells it when to stop."""
    build = _build_for(request, build_id)
    try:
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        offset = 0
    return JsonResponse({"text": build.log[offset:], "offset": len(build.log), "status": build.status, "completed": build.completed})
