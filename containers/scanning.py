"""Security scans (`scanMode`, `scanLevels`): the seam where a scanner backend plugs in.

Wave scans with Trivy. No backend ships yet, so this service answers a scan request the way Wave does
when scanning is off: 501. A backend is a class implementing `Scanner`, registered in `BACKENDS` under
the name `WAVE_SCANNER` selects (Trivy is meant to be `"trivy"`, running the `trivy` binary when it is
installed). Nothing here makes up a scan result. Wiring a backend into the request flow (a scan id on
the answer, `SCANNING` in the container status, `scanLevels` deciding `succeeded`) comes with the first
backend; until then `check_request` refuses every scan, since no backend can be configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from builds.request_spec import ContainerRequestSpec
from wave_site.errors import Unsupported

SCAN_MODES = ("none", "async", "required")
SCAN_LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
# Wave's message and status (UnsupportedScanServiceException), word for word.
SCANNING_OFF = "Security scan service is not enabled - Check Wave configuration setting 'wave.scan.enabled'"

BACKENDS: dict[str, str] = {}  # name -> import path of a `Scanner` class


@dataclass(frozen=True)
class ScanReport:
    succeeded: bool
    vulnerabilities: dict[str, int]  # level -> count, as Wave's container status reports them
    log: str


class Scanner(Protocol):
    def available(self) -> bool:
        """Can it scan on this machine (its program installed, its database present)?"""

    def scan(self, image: str, platform: str) -> ScanReport:
        """Scan a pushed image; raises on a scan that could not run."""


def configured_scanner() -> Scanner | None:
    name = settings.WAVE_SCANNER
    if not name:
        return None
    if name not in BACKENDS:
        raise ImproperlyConfigured(
            f"WAVE_SCANNER '{name}' names no scanner backend; this version has {', '.join(BACKENDS) or 'none'}"
        )
    scanner = import_string(BACKENDS[name])()
    return scanner if scanner.available() else None


def check_request(spec: ContainerRequestSpec) -> None:
    """A scan asked for (`async` or `required`; Wave treats `none` as no scan) needs a scanner."""
    if spec.scan_mode in ("async", "required") and configured_scanner() is None:
        raise Unsupported(SCANNING_OFF)
