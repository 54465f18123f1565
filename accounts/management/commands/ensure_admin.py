from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.onboarding import set_new_password


class Command(BaseCommand):
    help = "Create a first superuser `admin` when there is none; its password goes to a file, not the terminal."

    def handle(self, *args, **options):
        if User.objects.filter(is_superuser=True).exists():
            return
        user = User.objects.create_superuser("admin", "admin@localhost", None)
        path = settings.WAVE_DATA_DIR / "admin-password.txt"
        set_new_password(user, path)
        self.stdout.write(f"created the superuser 'admin'; its password is in {path}")
