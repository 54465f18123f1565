import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User


class Command(BaseCommand):
    help = "Create a first superuser `admin` when there is none; its password goes to a file, not the terminal."

    def handle(self, *args, **options):
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(18)
        User.objects.create_superuser("admin", "admin@localhost", password)
        path = settings.WAVE_DATA_DIR / "admin-password.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(password + "\n")
        self.stdout.write(f"created the superuser 'admin'; its password is in {path}")
