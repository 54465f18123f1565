from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.onboarding import password_file, set_new_password

# A metrics reader is a user with this permission, calling the metrics API and /metrics with HTTP Basic
# auth (metrics/auth.py); named by string, since accounts may not import metrics.
APP_LABEL, CODENAME = "metrics", "view_usage_metrics"


class Command(BaseCommand):
    help = (
        "Make USERNAME a metrics reader (HTTP Basic auth on /v1alpha2/metrics/... and /metrics), creating the "
        "user when absent. A new user's password goes to a 0600 file; run again to keep it, --new-password to replace it."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password-file", dest="path", type=Path, help="where the password is written (default: data/passwords/USERNAME.txt)")
        parser.add_argument("--new-password", action="store_true", help="replace the password of an existing user")

    def handle(self, *args, username: str, path: Path | None, new_password: bool, **options):
        user, created = User.objects.get_or_create(username=username)
        user.user_permissions.add(Permission.objects.get(content_type__app_label=APP_LABEL, codename=CODENAME))
        path = path or password_file(username)
        if created or new_password:
            set_new_password(user, path)
            self.stdout.write(f"metrics reader '{username}': its password is in {path}")
        else:
            self.stdout.write(f"metrics reader '{username}': already a user, password unchanged")
