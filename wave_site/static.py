"""Static files: hashed, compressed names from `collectstatic`, served by WhiteNoise."""

from __future__ import annotations

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger(__name__)


class StaticStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's manifest storage, except that a name missing from the manifest gives its plain
    URL (a 404 at worst) rather than a 500: a checkout where `collectstatic` has not run yet (pytest
    called directly, a fresh clone) still renders the admin and `/openapi/`, only unstyled."""

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:  # not in the manifest: no `collectstatic` since the file appeared
            log.warning("static file %r is not collected; run `manage.py collectstatic`", name)
            return name
