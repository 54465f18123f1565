"""What the onboarding commands share: a user made or found by name, and a generated password kept
in a 0600 file (never on the terminal, never in a log)."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings

from .models import User


def password_file(username: str) -> Path:
    return settings.WAVE_DATA_DIR / "passwords" / f"{username}.txt"


def set_new_password(user: User, path: Path) -> None:
    """Give `user` a fresh password and write it to `path`, readable by its owner only."""
    password = secrets.token_urlsafe(18)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.chmod(0o600)  # touch leaves the mode of a file that was there
    path.write_text(password + "\n")
    user.set_password(password)
    user.save(update_fields=["password"])
