from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand

from builds.base_images import BUSYBOX_PATH, busybox_image
from oci.client import RegistryClient
from oci.image import push_image


class Command(BaseCommand):
    help = "Push the base images made offline (busybox) to the local registry; pushing again changes nothing."

    def handle(self, *args, **options):
        registry = settings.WAVE_DEFAULT_REGISTRY
        image = busybox_image()

        async def push() -> str:
            async with RegistryClient(registry, insecure=frozenset(settings.WAVE_INSECURE_REGISTRIES)) as client:
                return await push_image(client, BUSYBOX_PATH, "latest", image)

        digest = async_to_sync(push)()
        self.stdout.write(f"seeded {registry}/{BUSYBOX_PATH}:latest ({digest})")
