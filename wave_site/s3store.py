"""The S3 store (README, Object storage), with boto3: SeaweedFS in the stack, any S3 API elsewhere.

Path-style addressing (`endpoint/bucket/key`): a loopback or self-hosted endpoint has no
per-bucket host names. Uploads from a file go through boto3's transfer manager, which sends
parts of 16 MiB (a few at a time) above 64 MiB, so no file is ever held in memory whole.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import BinaryIO, Iterable

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from wave_site.storage import Missing, Store, Unreachable, check_key

ABSENT = {"404", "NoSuchKey", "NotFound"}
TRANSFER = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=16 << 20, max_concurrency=4)


class S3Store(Store):
    def __init__(self, bucket: str, endpoint: str | None, region: str, access_key: str, secret_key: str,
                 public_endpoint: str | None = None):
        self.bucket = bucket
        self.name = f"the object store {endpoint or 'AWS S3'} (bucket {bucket})"
        self.client = self._client(endpoint, region, access_key, secret_key)
        # Presigned URLs are for clients: a signature covers its host, so they are signed for the
        # address clients reach (signing is local, this client never connects).
        self.signer = self._client(public_endpoint, region, access_key, secret_key) if public_endpoint else self.client

    @staticmethod
    def _client(endpoint: str | None, region: str, access_key: str, secret_key: str):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=60,
                # A store that is down answers within seconds, not after boto3's default of 5 tries.
                retries={"mode": "standard", "total_max_attempts": 2},
            ),
        )

    @contextlib.contextmanager
    def _calling(self, key: str | None = None):
        """Any failure but an absent key becomes Unreachable, naming the store (a ClientError's text
        names neither a key nor a secret; a connection error's would name the key's URL)."""
        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if key is not None and code in ABSENT:
                raise Missing(key) from None
            raise Unreachable(f"{self.name}: {code or 'error'} {error.response.get('Error', {}).get('Message', '')}".rstrip()) from None
        except EndpointConnectionError:
            raise Unreachable(f"{self.name}: cannot connect") from None
        except BotoCoreError as error:
            raise Unreachable(f"{self.name}: {error.__class__.__name__}") from None

    def put_file(self, key: str, path: Path) -> None:
        with self._calling():
            try:
                self.client.upload_file(str(path), self.bucket, check_key(key), Config=TRANSFER)
            except S3UploadFailedError as error:  # the transfer's wrapping of a refusal (e.g. the store is full)
                code = re.search(r"An error occurred \((\w+)\)", str(error))
                raise Unreachable(f"{self.name}: upload refused ({code.group(1) if code else 'error'})") from None

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._calling():
            self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data)

    def open(self, key: str) -> BinaryIO:
        with self._calling(key):
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"]

    def size(self, key: str) -> int | None:
        try:
            with self._calling(key):
                return self.client.head_object(Bucket=self.bucket, Key=check_key(key))["ContentLength"]
        except Missing:
            return None

    def delete(self, key: str) -> None:
        with self._calling():
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        """One request per 1,000 keys (S3's DeleteObjects), not one per key: the collector's 500 deletes
        took 5 s one by one."""
        keys = [check_key(key) for key in keys]
        for start in range(0, len(keys), 1000):
            with self._calling():
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys[start:start + 1000]], "Quiet": True}
                )
            if failed := answer.get("Errors"):
                raise Unreachable(f"{self.name}: {len(failed)} keys not deleted ({failed[0].get('Code', 'error')})")

    def presigned_get(self, key: str, expires: int) -> str | None:
        return self.signer.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": check_key(key)}, ExpiresIn=expires
        )

    def check(self) -> None:
        with self._calling():
            self.client.head_bucket(Bucket=self.bucket)

    def prepare(self) -> None:
        """Create the bucket unless it exists."""
        try:
            self.check()
        except Unreachable:
            with self._calling():
                with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou):
                    self.client.create_bucket(Bucket=self.bucket)
