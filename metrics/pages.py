"""Usage dashboards: builds, pulls and fusion pulls per day for an org, with the top images and users.

Operators (staff) see every org; an org manager sees their own org; anyone else gets 403.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from builds.models import Build

from .models import PullEvent

DAYS = 30
CHART_HEIGHT = 120


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "pages/forbidden.html", {"message": message}, status=403)


def may_see(user, org: str) -> bool:
    return user.is_staff or (user.is_org_manager and user.org == org)


@login_required
def usage_index(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_staff:
        orgs = sorted((set(Build.objects.values_list("org", flat=True)) | set(PullEvent.objects.values_list("org", flat=True))) - {""})
        return render(request, "pages/usage_index.html", {"orgs": orgs})
    if user.is_org_manager and user.org:
        return redirect(f"/view/usage/{user.org}")
    return _forbidden(request, "Usage dashboards are for operators and org managers.")


def _per_day(queryset, since) -> dict:
    rows = queryset.filter(created_at__date__gte=since).annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("pk"))
    return {row["day"]: row["n"] for row in rows}


def _chart(name: str, counts: dict, days: list) -> dict:
    values = [counts.get(day, 0) for day in days]
    top = max(values) or 1
    bars = [
        {"x": i * 22, "height": round(v * CHART_HEIGHT / top), "y": CHART_HEIGHT - round(v * CHART_HEIGHT / top), "value": v, "day": day}
        for i, (day, v) in enumerate(zip(days, values))
    ]
    return {"name": name, "bars": bars, "total": sum(values), "width": len(days) * 22, "height": CHART_HEIGHT}


@login_required
def usage_org(request: HttpRequest, org: str) -> HttpResponse:
    if not may_see(request.user, org):
        return _forbidden(request, f"You may not see the usage of {org}.")
    today = timezone.localdate()
    since = today - timedelta(days=DAYS - 1)
    days = [since + timedelta(days=i) for i in range(DAYS)]
    pulls = PullEvent.objects.filter(org=org)
    charts = [
        _chart("builds", _per_day(Build.objects.filter(org=org, from_registry=False), since), days),
        _chart("pulls", _per_day(pulls, since), days),
        _chart("fusion pulls", _per_day(pulls.filter(fusion=True), since), days),
    ]
    context = {
        "org": org,
        "since": since,
        "charts": charts,
        "top_images": pulls.values("image").annotate(n=Count("pk")).order_by("-n", "image")[:10],
        "top_users": pulls.exclude(user=None).values("user__username").annotate(n=Count("pk")).order_by("-n", "user__username")[:10],
    }
    return render(request, "pages/usage_org.html", context)
