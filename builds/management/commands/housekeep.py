import signal
import threading

from django.core.management.base import BaseCommand

from wave_site.housekeeping import run_forever, run_once


class Command(BaseCommand):
    help = "Run the housekeeping tasks (WAVE_HOUSEKEEPING_TASKS) every WAVE_HOUSEKEEPING_EVERY seconds, or once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run each task once and exit")

    def handle(self, *args, once=False, **options):
        if once:
            for path, result in run_once().items():
                self.stdout.write(f"{path}: {result}")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        run_forever(stop)
