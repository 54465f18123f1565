"""Base images made with no network: busybox from the host's `busybox-static`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from oci.image import Image, new_image
from oci.layer import LayerBuilder, gzip_layer
from oci.platform import Platform

BUSYBOX_PATH = "library/busybox"
DEBIAN_PATH, DEBIAN_TAG = "library/debian", "bookworm-slim"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _busybox_binary() -> Path:
    found = shutil.which("busybox") or "/bin/busybox"
    path = Path(found)
    if not path.is_file():
        raise FileNotFoundError("busybox is not installed (Debian package busybox-static)")
    return path


def busybox_image() -> Image:
    """A one-layer busybox image: the static binary, a symlink per applet, a minimal /etc."""
    binary = _busybox_binary()
    applets = subprocess.run([str(binary), "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    layer = LayerBuilder().add_file("bin/busybox", binary.read_bytes(), 0o755)
    for applet in applets:
        if applet != "bin/busybox":
            layer.add_symlink(applet, "/bin/busybox")
    layer.add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    layer.add_file("etc/group", b"root:x:0:\nnobody:x:65534:\n")
    layer.add_dir("tmp", 0o1777).add_dir("root", 0o700).add_dir("proc").add_dir("sys").add_dir("dev")
    return new_image([layer.build()], {"Env": [PATH_ENV], "Cmd": ["sh"]}, Platform("linux", "amd64"))


def debian_image(suite: str = "bookworm") -> Image:
    """A minimal Debian (mmdebstrap minbase, from Debian's own mirrors), the default conda base image."""
    if not shutil.which("mmdebstrap"):
        raise FileNotFoundError("mmdebstrap is not installed (Debian package mmdebstrap)")
    with tempfile.TemporaryDirectory() as work:
        tarball = Path(work) / "rootfs.tar"
        subprocess.run(
            ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar", "--quiet", suite, str(tarball)],
            check=True, stdout=subprocess.DEVNULL,
        )
        layer = gzip_layer(tarball.read_bytes())
    return new_image([layer], {"Env": [PATH_ENV], "Cmd": ["bash"]}, Platform("linux", "amd64"))
