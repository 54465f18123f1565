"""The filesystem store (WAVE_STORAGE_URL=file:///…) and the parsing of WAVE_STORAGE_URL: no service."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ImproperlyConfigured

from wave_site.storage import FileStore, Missing, Unreachable, parse


@pytest.fixture
def files(tmp_path) -> FileStore:
    return parse(f"file://{tmp_path / 'store'}")


def test_bytes_and_files_come_back_as_they_went_in(files, tmp_path):
    files.put_bytes("layers/sha256/ab", b"layer")
    source = tmp_path / "big"
    with open(source, "wb") as out:
        for i in range(40):
            out.write(hashlib.sha256(str(i).encode()).digest() * 32768)  # 40 MiB of varied bytes
    files.put_file("contexts/one.tar.gz", source)
    assert files.read_bytes("layers/sha256/ab") == b"layer"
    assert files.size("contexts/one.tar.gz") == source.stat().st_size
    with files.open("contexts/one.tar.gz") as stream, open(source, "rb") as original:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(original.read()).digest()


def test_an_absent_key_is_missing_and_has_no_size(files):
    with pytest.raises(Missing):
        files.open("logs/nothing")
    assert files.size("logs/nothing") is None
    files.delete("logs/nothing")  # deleting what is not there is no error


def test_a_delete_removes_the_key(files):
    files.put_bytes("a/b", b"1")
    files.delete("a/b")
    assert files.size("a/b") is None


def test_a_rewrite_replaces_the_whole_value_and_leaves_no_temporary_file(files, tmp_path):
    files.put_bytes("k", b"long first value")
    files.put_bytes("k", b"short")
    assert files.read_bytes("k") == b"short"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["k"]


def test_a_failed_upload_leaves_the_old_value_and_no_temporary_file(files, tmp_path):
    files.put_bytes("k", b"old")
    with pytest.raises(OSError):
        files.put_file("k", tmp_path / "absent")
    assert files.read_bytes("k") == b"old"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["k"]


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs", "a//b", "", "a/", ".hidden", "a b", "a\nb"])
def test_a_key_that_could_leave_the_folder_is_refused(files, key):
    with pytest.raises(ValueError, match="not a storage key"):
        files.put_bytes(key, b"x")


def test_the_file_store_has_no_presigned_urls(files):
    files.put_bytes("k", b"x")
    assert files.presigned_get("k", 60) is None


def test_a_folder_that_cannot_be_made_is_unreachable_naming_it(tmp_path):
    (tmp_path / "file").write_text("")
    store = parse(f"file://{tmp_path / 'file' / 'store'}")
    with pytest.raises(Unreachable, match=f"the file store {tmp_path / 'file' / 'store'}"):
        store.check()
    with pytest.raises(Unreachable, match="the file store"):
        store.put_bytes("k", b"x")


@pytest.mark.parametrize("url", [
    "file://relative/path", "file:///abs?x=1", "s3://", "s3://bucket/prefix", "s3://bucket?endpoint=ftp://host",
    "s3://bucket?endpoint=http://a&endpoint=http://b", "s3://bucket?colour=red", "http://host/bucket", "bucket",
    "s3://bucket?endpoint=http://a&public_endpoint=file:///x", "s3://bucket?public_endpoint=http://a&public_endpoint=http://b",
])
def test_a_malformed_url_is_refused_naming_it(url):
    with pytest.raises(ImproperlyConfigured, match="WAVE_STORAGE_URL must be") as refused:
        parse(url)
    assert repr(url) in str(refused.value)


def test_an_s3_url_names_its_bucket_and_endpoint():
    store = parse("s3://wave?endpoint=http://127.0.0.1:9&region=eu-west-1", "key", "secret")
    assert store.bucket == "wave" and store.name == "the object store http://127.0.0.1:9 (bucket wave)"
    assert store.client.meta.region_name == "eu-west-1"


def test_an_s3_store_that_is_down_is_unreachable_naming_it_not_the_key():
    store = parse("s3://wave?endpoint=http://127.0.0.1:9", "key", "secret")
    for attempt in (store.check, lambda: store.put_bytes("secret-looking/key", b"x"), lambda: store.open("secret-looking/key")):
        with pytest.raises(Unreachable) as down:
            attempt()
        assert str(down.value) == "the object store http://127.0.0.1:9 (bucket wave): cannot connect"


def test_delete_many_removes_every_key(files):
    for key in ("a", "b/c"):
        files.put_bytes(key, b"x")
    files.delete_many(["a", "b/c", "absent"])
    assert files.size("a") is None and files.size("b/c") is None
