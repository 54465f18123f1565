"""The S3 store against the stack's SeaweedFS (WAVE_STORAGE_URL from data/stack.env): each test
works under a key prefix of its own and removes what it wrote."""

from __future__ import annotations

import hashlib
import os
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.conf import settings

from wave_site.storage import Missing, Unreachable, parse, store


@pytest.fixture
def s3():
    s3 = store()
    assert settings.WAVE_STORAGE_URL.startswith("s3://"), "the stack runs SeaweedFS"
    written: list[str] = []
    s3.key = lambda name: written.append(f"test/{uuid.uuid4().hex}/{name}") or written[-1]
    yield s3
    for key in written:
        s3.delete(key)


def test_bytes_round_trip_and_an_absent_key_is_missing(s3):
    key = s3.key("small")
    s3.put_bytes(key, b"hello")
    assert s3.read_bytes(key) == b"hello" and s3.size(key) == 5
    s3.delete(key)
    assert s3.size(key) is None
    with pytest.raises(Missing):
        s3.open(key)


def test_a_file_above_the_multipart_threshold_comes_back_whole(s3, tmp_path):
    source = tmp_path / "big"
    digest = hashlib.sha256()
    with open(source, "wb") as out:
        for _ in range(70):  # 70 MiB: five parts of 16 MiB
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            out.write(chunk)
    key = s3.key("big")
    s3.put_file(key, source)
    assert s3.size(key) == 70 << 20
    read = hashlib.sha256()
    with s3.open(key) as stream:
        while chunk := stream.read(1 << 20):
            read.update(chunk)
    assert read.hexdigest() == digest.hexdigest()


def test_a_presigned_url_serves_the_object_without_keys_until_it_expires(s3):
    key = s3.key("shared")
    s3.put_bytes(key, b"layer bytes")
    url = s3.presigned_get(key, 60)
    assert settings.WAVE_STORAGE_SECRET_KEY not in url
    assert httpx.get(url).content == b"layer bytes"
    assert httpx.get(url.replace("X-Amz-Expires=60", "X-Amz-Expires=6000")).status_code == 403  # the signature covers it
    assert httpx.get(url.split("?")[0]).status_code == 403  # no anonymous reads


def test_a_public_endpoint_signs_urls_for_the_clients_address_while_the_service_uses_its_own(s3):
    """The service reaches the store at 127.0.0.1, clients at another name (here `localhost`, the same
    server): URLs are signed for the clients' host, and the signature does not hold on the other one."""
    key = s3.key("public")
    s3.put_bytes(key, b"for the clients")
    internal = urlsplit(parse_qs(urlsplit(settings.WAVE_STORAGE_URL).query)["endpoint"][0])
    public = f"http://localhost:{internal.port}"
    url = settings.WAVE_STORAGE_URL.replace("?", f"?public_endpoint={public}&")
    both = parse(url, settings.WAVE_STORAGE_ACCESS_KEY, settings.WAVE_STORAGE_SECRET_KEY)
    assert both.read_bytes(key) == b"for the clients"  # the service still talks to its own address
    signed = both.presigned_get(key, 60)
    assert signed.startswith(f"{public}/wave/{key}?")
    assert httpx.get(signed).content == b"for the clients"
    assert httpx.get(signed.replace(public, f"http://127.0.0.1:{internal.port}")).status_code == 403


def test_wrong_keys_are_refused_naming_the_store_not_the_keys():
    endpoint = settings.WAVE_STORAGE_URL
    wrong = parse(endpoint, settings.WAVE_STORAGE_ACCESS_KEY, "not-the-secret")
    with pytest.raises(Unreachable) as refused:
        wrong.put_bytes("test/refused", b"x")
    assert str(refused.value).startswith(store().name) and "not-the-secret" not in str(refused.value)
    assert settings.WAVE_STORAGE_ACCESS_KEY not in str(refused.value)


def test_a_refused_file_upload_is_unreachable_naming_the_store_not_the_key(tmp_path):
    wrong = parse(settings.WAVE_STORAGE_URL, settings.WAVE_STORAGE_ACCESS_KEY, "not-the-secret")
    source = tmp_path / "layer"
    source.write_bytes(b"x" * 1024)
    with pytest.raises(Unreachable) as refused:  # boto3's transfer wraps the refusal in its own error
        wrong.put_file("test/refused-file", source)
    assert str(refused.value).startswith(f"{store().name}: upload refused (")
    assert "refused-file" not in str(refused.value) and "not-the-secret" not in str(refused.value)


def test_the_stacks_store_refuses_anonymous_writes_and_reads(s3):
    endpoint = s3.client.meta.endpoint_url
    key = s3.key("anonymous")
    assert httpx.put(f"{endpoint}/{s3.bucket}/{key}", content=b"x").status_code == 403
    assert s3.size(key) is None
    s3.put_bytes(key, b"private")
    assert httpx.get(f"{endpoint}/{s3.bucket}/{key}").status_code == 403
    assert httpx.get(f"{endpoint}/{s3.bucket}").status_code == 403  # no listing either


def test_delete_many_removes_every_key_in_batches_and_ignores_absent_ones(s3):
    keys = [s3.key(f"many{i}") for i in range(1005)]  # two DeleteObjects requests
    for key in keys[:3] + keys[-3:]:
        s3.put_bytes(key, b"x")
    s3.delete_many(keys)
    assert [s3.size(key) for key in keys[:3] + keys[-3:]] == [None] * 6
