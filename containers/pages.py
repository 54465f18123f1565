"""Server-rendered pages for container tokens and inspecting images."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from accounts.identity import ANONYMOUS, Identity
from builds.conda.plan import SUBDIRS as CONDA_SUBDIRS
from limits.ratelimit import client_ip
from builds.models import without_large_fields
from builds.visibility import sees_private
from metrics.models import PullEvent
from oci.errors import OciError
from oci.platform import parse_platform
from wave_site.errors import DomainError
from wave_site.storage import Unreachable

from .inspect import inspect_image
from .models import ContainerRequest
from .new_form import KINDS, Form, FormError, api_body, error_of
from .package_search import find_packages
from .serializers import ContainerRequestSerializer
from .services import Caller, request_container

NEW_CONTAINER = "/view/containers/new"


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


def home(request: HttpRequest) -> HttpResponse:
    """`/`: a signed-in user's builds; anyone else starts by requesting a container."""
    return redirect("/view/builds/" if request.user.is_authenticated else NEW_CONTAINER)


def _identity(request: HttpRequest) -> Identity:
    return Identity(request.user) if request.user.is_authenticated else ANONYMOUS  # a session is its user, as a token


def new_container(request: HttpRequest) -> HttpResponse:
    """GET the form; POST a request through the API's serializer and service (post/redirect/get), or
    (the "Search" button, for browsers without script) a package search shown in the form."""
    if request.method == "GET":
        kind = request.GET.get("kind")
        return _form_page(request, {"kind": kind if kind in KINDS else "conda"})
    form = Form.from_post(request.POST)
    if "search" in request.POST:
        try:
            found = async_to_sync(find_packages)(form.values["q"], _subdir(form.values["platform"]),
                                                 request.user.pk, client_ip(request.META))
        except DomainError as exc:
            return _form_page(request, form.values, FormError("q", exc.message), exc.status, exc.headers)
        return _form_page(request, form.with_added(), found=found)
    try:
        serializer = ContainerRequestSerializer(data=api_body(form), context={"legacy": False, "bearer": False})
        if not serializer.is_valid():
            raise error_of(serializer.errors)
        caller = Caller(_identity(request), client_ip(request.META), request.headers.get("User-Agent", ""), NEW_CONTAINER)
        answer = request_container(caller, serializer.to_spec())
    except FormError as exc:
        return _form_page(request, form.with_added(), exc)
    except DomainError as exc:  # refused by the service: the API's message and status
        return _form_page(request, form.with_added(), FormError("", exc.message), exc.status, exc.headers)
    except Unreachable as exc:  # the object store, down: the API's 503
        return _form_page(request, form.with_added(), FormError("", f"Unavailable: {exc}"), 503)
    return redirect(f"/view/containers/{answer['requestId']}")


def _subdir(platform: str) -> str:
    return CONDA_SUBDIRS.get(platform, CONDA_SUBDIRS["linux/amd64"])  # the platform's own error comes on submit


def _form_page(request: HttpRequest, values: dict, error: FormError | None = None, status: int | None = None,
               headers: dict | None = None, found: dict | None = None) -> HttpResponse:
    context = {"v": values, "error": error, "found": found, "too_many": status == 429}
    response = render(request, "pages/new_container.html", context, status=status or (400 if error else 200))
    for name, value in (headers or {}).items():
        response[name] = value
    return response


async def package_search(request: HttpRequest) -> JsonResponse:
    """GET /view/containers/packages?q=...&platform=linux-64: names, latest versions, platforms."""
    user = await request.auser()
    try:
        answer = await find_packages(request.GET.get("q", ""), request.GET.get("platform", ""),
                                     user.pk if user.is_authenticated else None, client_ip(request.META))
    except DomainError as exc:
        response = JsonResponse({"message": exc.message}, status=exc.status)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    return JsonResponse(answer)
