from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User, org_of
from accounts.onboarding import password_file, set_new_password


class Command(BaseCommand):
    help = (
        "Make the user with EMAIL an org manager: they read the usage of their org (the email's domain) on the "
        "Usage page and the metrics API. A new user (username: the email) gets a password in a 0600 file."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--username", help="for a new user (default: the email)")
        parser.add_argument("--password-file", dest="path", type=Path, help="default: data/passwords/USERNAME.txt")
        parser.add_argument("--new-password", action="store_true", help="replace the password of an existing user")

    def handle(self, *args, email: str, username: str | None, path: Path | None, new_password: bool, **options):
        org = org_of(email)
        if org is None:
            raise CommandError(f"'{email}' is not an email address: an org is the domain of one")
        users = list(User.objects.filter(email__iexact=email))
        if len(users) > 1:
            raise CommandError(f"{len(users)} users have the email '{email}': make one of them manager in the admin")
        created = not users
        user = users[0] if users else User.objects.create(username=username or email, email=email)
        if not user.is_org_manager:
            user.is_org_manager = True
            user.save(update_fields=["is_org_manager"])
        if created or new_password:
            path = path or password_file(user.username)
            set_new_password(user, path)
            self.stdout.write(f"org manager '{user.username}' of {org}: the password is in {path}")
        else:
            self.stdout.write(f"org manager '{user.username}' of {org}: already a user, password unchanged")
