from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import crypto
from accounts.models import RegistryCredential


class Command(BaseCommand):
    help = "Re-encrypt every stored registry secret with the first key of WAVE_CREDENTIALS_KEYS."

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for credential in RegistryCredential.objects.select_for_update():
                credential.secret_encrypted = crypto.rotate(credential.secret_encrypted)
                credential.save(update_fields=["secret_encrypted", "updated_at"])
                count += 1
        self.stdout.write(f"re-encrypted {count} registry secret(s) with the current key")
