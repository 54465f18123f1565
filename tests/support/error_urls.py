"""The site's URLs and error handlers, plus views that fail on purpose under a page path and an API
path: how a bug or a refusal reaches people and programs (tests/pages/test_layout.py)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.urls import path

from wave_site import urls as site

SECRET = "the-database-password-is-hunter2"


def explode(request):
    raise KeyError(SECRET)


def refuse(request):
    raise PermissionDenied("Only the night shift may open this.")


# Django reads the handlers from the URL conf in use, so this one names the site's.
handler400, handler403, handler404, handler500 = site.handler400, site.handler403, site.handler404, site.handler500
urlpatterns = [
    path("view/explode", explode),
    path("v1alpha1/explode", explode),
    path("view/refuse", refuse),
    path("v1alpha1/refuse", refuse),
    *site.urlpatterns,
]
