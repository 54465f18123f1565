"""Usage dashboards: builds, pulls and fusion pulls per day for an org over 7, 30 or 90 days (`?days=`),
with the top images and users of that window, and the same numbers as CSV (`/view/usage/<org>.csv`);
the index of orgs with their totals, and its CSV (`/view/usage.csv`).

Operators (staff) see every org, anonymous usage included; an org manager sees their own org; anyone
else gets 403.
"""

from __future__ import annotations

import csv
import re
from urllib.parse import quote

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from . import usage
from .usage import ANONYMOUS, DEFAULT_WINDOW, KINDS, LABELS, WINDOWS, Window


class WindowForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=[(d, f"{d} days") for d in WINDOWS], coerce=int, required=False, empty_value=DEFAULT_WINDOW,
        label="Window", error_messages={"invalid_choice": "Invalid window '%(value)s': choose 7, 30 or 90 days"},
    )


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "pages/forbidden.html", {"message": message}, status=403)


def may_see(user, org: str) -> bool:
    return user.is_staff or (user.is_org_manager and user.org == org)


def _window(request: HttpRequest) -> tuple[Window | None, WindowForm]:
    """The window asked for, or None when `days` is bad (the form then carries the error)."""
    form = WindowForm(request.GET)
    return (Window.last(form.cleaned_data["days"]) if form.is_valid() else None), form


def _not_the_index(request: HttpRequest, suffix: str = "") -> HttpResponse:
    """The index (or its CSV, `suffix` ".csv") is for operators: an org manager is sent on to their own
    org's, with the same query; anyone else gets a 403."""
    user = request.user
    if user.is_org_manager and user.org:
        query = request.GET.urlencode()
        return redirect(f"/view/usage/{quote(user.org, safe='')}{suffix}" + (f"?{query}" if query else ""))
    return _forbidden(request, "Usage dashboards are for operators and org managers.")


@login_required
def usage_index(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        return _not_the_index(request)
    window, form = _window(request)
    if window is None:
        return render(request, "pages/usage_index.html", {"form": form}, status=400)
    context = {"form": form, "window": window, "orgs": usage.per_org(window), "csv_url": "/view/usage.csv"}
    return render(request, "pages/usage_index.html", context)


@login_required
def usage_org(request: HttpRequest, org: str) -> HttpResponse:
    org = org.lower()  # orgs are stored lower case, as email domains compare
    if not may_see(request.user, org):
        return _forbidden(request, f"You may not see the usage of {org}.")
    window, form = _window(request)
    context = {"org": org, "form": form, "anonymous": org == ANONYMOUS, "csv_url": f"/view/usage/{quote(org, safe='')}.csv"}
    if window is None:
        return render(request, "pages/usage_org.html", context, status=400)
    series = usage.daily(org, window)
    dates = window.dates()
    charts = [
        {"kind": kind, "label": LABELS[kind], "total": sum(series[kind]), "days": [(d, n) for d, n in zip(dates, series[kind]) if n]}
        for kind in KINDS
    ]
    top_images, top_users = usage.top(org, window)
    context |= {
        "window": window,
        "charts": charts,
        "empty": not any(chart["total"] for chart in charts),
        "data": {"dates": [d.isoformat() for d in dates], "series": series},
        "top_images": top_images,
        "top_users": top_users,
    }
    return render(request, "pages/usage_org.html", context)


# A cell a spreadsheet would run as a formula starts with one of these (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _bad_window(form: WindowForm) -> HttpResponse:
    return HttpResponse(" ".join(form.errors["days"]) + "\n", status=400, content_type="text/plain; charset=utf-8")


def _csv(name: str, window: Window, header: list[str], rows: list[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{name}-{window.since}-{window.until}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


@login_required
def usage_csv(request: HttpRequest, org: str) -> HttpResponse:
    """One row per day and kind, the numbers the dashboard draws."""
    org = org.lower()
    if not may_see(request.user, org):
        return _forbidden(request, f"You may not see the usage of {org}.")
    window, form = _window(request)
    if window is None:
        return _bad_window(form)
    name = re.sub(r"[^A-Za-z0-9.-]", "_", org)  # a header value: nothing a quote or newline could break
    rows = [[day.isoformat(), _cell(org), kind, count] for day, kind, count in usage.rows(org, window)]
    return _csv(name, window, ["date", "org", "kind", "count"], rows)


@login_required
def usage_index_csv(request: HttpRequest) -> HttpResponse:
    """The index's table: one row per org with its totals in the window, most pulls first."""
    if not request.user.is_staff:
        return _not_the_index(request, ".csv")
    window, form = _window(request)
    if window is None:
        return _bad_window(form)
    rows = [[_cell(row["org"])] + [row[kind] for kind in KINDS] for row in usage.per_org(window)]
    return _csv("orgs", window, ["org", *KINDS], rows)
