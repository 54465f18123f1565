from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand

from builds.base_images import BUSYBOX_PATH, DEBIAN_PATH, DEBIAN_TAG, busybox_image, debian_image
from oci.client import RegistryClient
from oci.errors import NotFound
from oci.image import push_image


class Command(BaseCommand):
    help = "Push the base images made offline to the local registry: busybox always, Debian with --debian."

    def add_arguments(self, parser):
        parser.add_argument("--debian", action="store_true", help="also Debian bookworm (mmdebstrap; once, ~20 s)")

    def handle(self, *args, **options):
        registry = settings.WAVE_DEFAULT_REGISTRY

        def client() -> RegistryClient:
            return RegistryClient(
                registry, settings.WAVE_REGISTRY_CREDENTIALS.get(registry), insecure=frozenset(settings.WAVE_INSECURE_REGISTRIES)
            )

        async def push(path: str, tag: str, image) -> str:
            async with client() as c:
                return await push_image(c, path, tag, image)

        async def present(path: str, tag: str) -> bool:
            async with client() as c:
                try:
                    await c.get_manifest(path, tag)
                except NotFound:
                    return False
            return True

        digest = async_to_sync(push)(BUSYBOX_PATH, "latest", busybox_image())
        self.stdout.write(f"seeded {registry}/{BUSYBOX_PATH}:latest ({digest})")
        if options["debian"]:
            if async_to_sync(present)(DEBIAN_PATH, DEBIAN_TAG):
                self.stdout.write(f"{registry}/{DEBIAN_PATH}:{DEBIAN_TAG} is already seeded")
                return
            digest = async_to_sync(push)(DEBIAN_PATH, DEBIAN_TAG, debian_image())
            self.stdout.write(f"seeded {registry}/{DEBIAN_PATH}:{DEBIAN_TAG} ({digest})")
