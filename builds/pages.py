"""Server-rendered build pages: the list with filters and search, and a build that follows its log live."""

from __future__ import annotations

import re
from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.db.models.functions import Length, Right, Substr
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from wave_site.storage import Unreachable

from .archive import for_page, lock_text, log_text
from .log_view import log_html, marks_in
from .models import Build, without_large_fields
from .pull_commands import ORAS, pull_commands
from .pushed import pushed
from .reconcile import as_read
from .visibility import public_reason, sees_build_private

LOG_SHOWN = 100_000  # characters of a log a page shows (the reference's cut), or a follower gets at once
# buildah's step markers ("STEP 2/3: RUN make"); build.js uses the same pattern on what it follows.
STEP = re.compile(r"^STEP (\d+)/(\d+): (.*)$", re.MULTILINE)


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
    private = sees_build_private(request.user, build)
    if not private:
        build.reason = public_reason(build)
    return build, private


def pull_image(build: Build) -> str:
    """The name the build is pulled by straight from where it was pushed (a frozen build's `containerImage`)."""
    return ORAS + build.target_image if build.format == Build.Format.SIF else build.target_image


def live_tokens(user, build: Build) -> list:
    """The build's live container tokens this user's org asked for, newest first: the names it is
    pulled by through this service. Tokens are pull capabilities: never listed to anyone else."""
    if not user.is_authenticated:
        return []
    tokens = build.requests.filter(freeze=False, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    if not user.is_staff:
        tokens = tokens.filter(Q(user=user) | Q(org=user.org or "-"))
    return list(tokens.only("token", "target_image", "created_at", "expires_at").order_by("-created_at")[:20])


def step_times(build: Build) -> list[dict]:
    """Each recorded step and how long it took: until the next began, the last until the build ended."""
    ends = [step["at"] for step in build.steps[1:]] + [build.finished_at.timestamp() if build.finished_at else None]
    return [
        {"step": step["step"], "seconds": round(end - step["at"], 1) if end is not None else None}
        for step, end in zip(build.steps, ends)
    ]


def build_detail(request: HttpRequest, build_id: str) -> HttpResponse:
    build, private = _build_for(request, build_id, log_shown=Right("log", LOG_SHOWN))
    if private:  # only a reader of the log makes the page read an archived one from the store
        for_page(build, LOG_SHOWN)
    tokens = [] if build.freeze else live_tokens(request.user, build)
    context = {
        "build": build, "private": private, "log_cut": build.log_size > LOG_SHOWN, "tokens": tokens,
        "commands": pull_commands(tokens[0].target_image if tokens else pull_image(build)), "pushed": pushed(build),
    }
    if private:
        context["steps"] = step_times(build) if build.steps else [
            {"step": f"{n}/{m}: {text}", "seconds": None} for n, m, text in STEP.findall(build.log_shown)
        ]
        start = build.log_size - len(build.log_shown)
        marks = marks_in(build.log_times, start, build.log_size)
        context["log"], context["error_line"] = log_html(build.log_shown, marks, build.status == Build.Status.FAILED)
        context["timed"] = bool(marks)
    return render(request, "pages/build_detail.html", context)


# The files a build page offers for download: name -> (what it is, its text; an ended build's log and
# lock through builds/archive.py, which reads them from the store once archived).
FILES = {
    "Containerfile": ("recipe", lambda build: build.container_file),
    "conda.yml": ("conda file", lambda build: build.conda_file),
    "conda.lock": ("conda lock", lambda build: lock_text(build, "explicit")),
    "conda-lock.yml": ("conda lock", lambda build: lock_text(build, "yaml")),
    "build.log": ("log", log_text),
}


def _text(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def build_file(request: HttpRequest, build_id: str, name: str) -> HttpResponse:
    """One of a build's files as a download, for whoever sees the build's private side."""
    if name not in FILES:
        return _text(404, f"No file '{name}' for a build; there are {', '.join(FILES)}")
    what, read = FILES[name]
    build, private = _build_for(request, build_id)
    if not private:
        return _text(403, f"The {what} of build {build.id} is shown to its owner's organisation and operators")
    try:
        text = read(build)
    except Unreachable as exc:
        return _text(503, f"Unavailable: {exc}")
    if not text:
        return _text(404, f"Build {build.id} has no {what}")
    response = _text(200, text)
    response["Content-Disposition"] = f'attachment; filename="{build.id}-{name}"'
    return response


def final_state(build: Build) -> dict:
    """What the page fills in when the build ends: all public (builds/visibility.py)."""
    image = pushed(build)
    return {
        "digest": build.digest,
        "size": image.size if image else None,
        "layers": [layer._asdict() for layer in image.layers] if image else [],
        "duration": build.duration,
        "reason": build.reason,
        "started": build.started_at.isoformat() if build.started_at else None,
        "finished": build.finished_at.isoformat() if build.finished_at else None,
    }


def build_log(request: HttpRequest, build_id: str) -> JsonResponse:
    """The log from `offset` on, for the page's follower; `completed` tells it when to stop. Whoever
    may not read the log follows the status only."""
    try:
        # Past 2**30 characters (no log is that long) is the same empty answer, and stays within the
        # int4 `substring` takes in SQL.
        offset = min(max(int(request.GET.get("offset", 0)), 0), 2**30)
    except ValueError:
        offset = 0
    build, private = _build_for(request, build_id, log_shown=Substr("log", offset + 1, LOG_SHOWN))
    if private:
        for_page(build, LOG_SHOWN, offset)
    text = build.log_shown if private else ""
    body = {"text": text, "offset": offset + len(text), "status": build.status, "completed": build.completed}
    if text and (times := marks_in(build.log_times, offset, offset + len(text))):
        body["times"] = times  # when the worker read the lines: [offset in text, HH:MM:SS UTC] where it changes
    if private and build.steps:  # the steps name the recipe's commands: private like the log
        body["steps"] = step_times(build)
    return JsonResponse(body | final_state(build))
