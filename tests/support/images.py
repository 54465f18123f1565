"""Images and layers made in process for tests: a data: layer for a request, an image pushed to the stack."""

from __future__ import annotations

import base64
import uuid

from oci.image import new_image
from oci.layer import LayerBuilder
from oci.platform import Platform

from .helpers import REGISTRY, push


ADDED = LayerBuilder().add_file("opt/added/hello.txt", b"hello from the added layer\n").build()


def data_layer(layer=ADDED) -> dict:
    return {
        "location": "data:" + base64.b64encode(layer.gzip).decode(),
        "gzipDigest": layer.gzip_digest,
        "gzipSize": layer.size,
        "tarDigest": layer.tar_digest,
    }


def include_image(name: str, files: dict[str, bytes], platform: Platform = Platform("linux", "amd64")) -> tuple[str, object]:
    """An image of one layer per file, pushed to the stack's registry under `include/<name>`."""
    layers = [LayerBuilder().add_file(path, data).build() for path, data in files.items()]
    image = new_image(layers, {"Env": [f"{name.upper()}_ENV=only-in-{name}"]}, platform)
    tag = uuid.uuid4().hex[:12]
    push(REGISTRY, f"include/{name}", tag, image)
    return f"{REGISTRY}/include/{name}:{tag}", image

