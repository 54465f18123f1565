"""The object store: where the service keeps its own bytes (README, Object storage).

`store()` is the configured one, from WAVE_STORAGE_URL: `s3://BUCKET?endpoint=URL&region=REGION`
(any S3 API; the stack runs SeaweedFS) or `file:///abs/path` (a folder, for one machine). Keys are
relative paths of safe segments (`layers/sha256/ab…`), so a key can never leave the folder.
Every failure to reach the store is `Unreachable`, whose message names the store and never a key
or secret; an absent key is `Missing`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:=+-]*(/[A-Za-z0-9_][A-Za-z0-9._:=+-]*)*")
CHUNK = 1 << 20


class Missing(Exception):
    """The key is not in the store."""


class Unreachable(Exception):
    """The store did not answer, or refused us: the message says which store and why."""


def check_key(key: str) -> str:
    if not KEY.fullmatch(key) or len(key) > 512:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Store:
    """What the service needs of an object store; `name` says which one in errors and logs."""

    name = "store"

    def put_file(self, key: str, path: Path) -> None: raise NotImplementedError
    def put_bytes(self, key: str, data: bytes) -> None: raise NotImplementedError
    def open(self, key: str) -> BinaryIO: raise NotImplementedError
    def size(self, key: str) -> int | None: raise NotImplementedError
    def delete(self, key: str) -> None: raise NotImplementedError
    def presigned_get(self, key: str, expires: int) -> str | None: raise NotImplementedError
    def check(self) -> None: raise NotImplementedError

    def prepare(self) -> None:
        """Create what the store needs (its bucket or folder); `scripts/stack` calls it at start."""
        self.check()

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()


class FileStore(Store):
    """A folder: each key a file, written to a temporary name and renamed, so a reader never sees half."""

    def __init__(self, root: Path):
        self.root = root
        self.name = f"the file store {root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write(self, key: str, fill) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".part-", delete=False) as out:
                try:
                    fill(out)
                except BaseException:
                    os.unlink(out.name)
                    raise
            os.replace(out.name, target)
        except OSError as error:
            raise Unreachable(f"{self.name}: {error.strerror}") from error

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as source:
            self._write(key, lambda out: shutil.copyfileobj(source, out, CHUNK))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, lambda out: out.write(data))

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise Missing(key) from None
        except OSError as error:
            raise Unreachable(f"{self.name}: {error.strerror}") from error

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def presigned_get(self, key: str, expires: int) -> str | None:
        return None

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise Unreachable(f"{self.name}: not writable")
        except OSError as error:
            raise Unreachable(f"{self.name}: {error.strerror}") from error


def parse(url: str, access_key: str = "", secret_key: str = "") -> Store:
    """The store a WAVE_STORAGE_URL names; a malformed one is refused naming it (it holds no secret)."""
    parts = urlsplit(url)
    if parts.scheme == "file" and not parts.netloc and parts.path.startswith("/") and not parts.query:
        return FileStore(Path(parts.path))
    if parts.scheme == "s3" and parts.netloc and parts.path in ("", "/"):
        query = parse_qs(parts.query, strict_parsing=bool(parts.query))
        endpoint, public = (query.get(name, [""])[0] for name in ("endpoint", "public_endpoint"))
        if (set(query) <= {"endpoint", "public_endpoint", "region"} and all(len(v) == 1 for v in query.values())
                and all(not url or urlsplit(url).scheme in ("http", "https") for url in (endpoint, public))):
            from wave_site.s3store import S3Store  # boto3 loads only when the store is S3

            region = query.get("region", ["us-east-1"])[0]
            return S3Store(parts.netloc, endpoint or None, region, access_key, secret_key, public or None)
    raise ImproperlyConfigured(
        "WAVE_STORAGE_URL must be s3://BUCKET?endpoint=http(s)://HOST:PORT&region=REGION"
        f"[&public_endpoint=http(s)://HOST:PORT] or file:///ABSOLUTE/PATH, not {url!r}"
    )


@functools.cache
def store() -> Store:
    return parse(settings.WAVE_STORAGE_URL, settings.WAVE_STORAGE_ACCESS_KEY, settings.WAVE_STORAGE_SECRET_KEY)


@receiver(setting_changed)
def _forget_store(setting: str, **kwargs) -> None:
    """A test that overrides the store's settings gets the store they name."""
    if setting.startswith("WAVE_STORAGE_"):
        store.cache_clear()
