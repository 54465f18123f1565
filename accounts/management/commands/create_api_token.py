from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken, User


class Command(BaseCommand):
    help = (
        "Issue an API token (the towerAccessToken) for USERNAME and print it once, alone on stdout; only its hash "
        "is kept. --staff makes (or marks) USERNAME an operator without a password, for a service account such as "
        "the operators' Nextflow runs. --replace revokes the user's active tokens of the same name first."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="the token's name, as the Account page lists it")
        parser.add_argument("--staff", action="store_true", help="create the user as staff, or make them staff")
        parser.add_argument("--replace", action="store_true", help="revoke active tokens of this name first")

    def handle(self, *args, username: str, name: str, staff: bool, replace: bool, **options):
        user = User.objects.filter(username=username).first()
        if user is None and not staff:
            raise CommandError(f"No user '{username}': create one (or pass --staff to make a staff service account)")
        if user is None:
            user = User(username=username, is_staff=True)
            user.set_unusable_password()
            user.save()
        elif staff and not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        if replace:
            for token in ApiToken.objects.active().filter(user=user, name=name):
                token.revoke()
        _, plaintext = ApiToken.issue(user, name)
        self.stderr.write(f"token '{name}' for '{username}'{' (staff)' if user.is_staff else ''}: shown once, keep it now")
        self.stdout.write(plaintext)
