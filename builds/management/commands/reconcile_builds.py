from django.core.management.base import BaseCommand

from builds.reconcile import reap_stale_builds


class Command(BaseCommand):
    help = "Mark failed the running builds whose worker stopped (no heartbeat); run it from cron."

    def handle(self, *args, **options):
        self.stdout.write(f"marked {reap_stale_builds()} stale build(s) failed")
