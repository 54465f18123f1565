from django.core.management.base import BaseCommand
from django.db.models import Count
from django.db.models.functions import TruncDate

from builds.models import Build
from metrics import counters
from metrics.models import PullEvent
from wave_site.redis import sync_redis


class Command(BaseCommand):
    help = "Remake the Redis usage counters from the build and pull records in Postgres."

    def handle(self, *args, **options):
        sources = {
            "builds": Build.objects.filter(from_registry=False),
            "pulls": PullEvent.objects.all(),
            "fusion": PullEvent.objects.filter(fusion=True),
        }
        pipe = sync_redis().pipeline(transaction=True)
        pipe.delete(counters.HASH, *[counters.orgs_key(m) for m in counters.METRICS])
        for metric, queryset in sources.items():
            rows = queryset.annotate(day=TruncDate("created_at")).values("org", "day").annotate(n=Count("pk"))
            for row in rows:
                counters.increment(metric, row["org"] or None, row["day"], row["n"], pipe=pipe)
        pipe.execute()
        self.stdout.write("rebuilt the usage counters from Postgres")
