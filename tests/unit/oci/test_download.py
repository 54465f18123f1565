"""The one streamed download (`oci.download`) against a fake server (httpx MockTransport: the one
seam faked): what reaches the sink, the digest, the cap, a refused status."""

import asyncio
import hashlib
import io

import httpx
import pytest

from oci.download import BadStatus, TooLarge, download

BODY = b"0123456789" * 1000  # 10,000 bytes, streamed in 1,000-byte chunks


def _client(status=200) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        chunks = [BODY[i : i + 1000] for i in range(0, len(BODY), 1000)]
        return httpx.Response(status, stream=_Chunks(chunks))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks):
        self.chunks = chunks

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk


def _run(client, sink, **options):
    async def go():
        async with client:
            return await download(client, "https://files.test/pkg", sink, **options)

    return asyncio.run(go())


def test_the_body_reaches_the_sink_and_its_digest_is_returned():
    sink = io.BytesIO()
    assert _run(_client(), sink.write) == hashlib.sha256(BODY).hexdigest()
    assert sink.getvalue() == BODY


def test_md5_for_conda_records_that_carry_only_md5():
    assert _run(_client(), io.BytesIO().write, hash_name="md5") == hashlib.md5(BODY).hexdigest()


def test_a_body_exactly_at_the_limit_passes():
    sink = bytearray()
    _run(_client(), sink.extend, limit=len(BODY))
    assert bytes(sink) == BODY


def test_a_body_over_the_limit_stops_before_the_chunk_that_crosses_it():
    sink = bytearray()
    with pytest.raises(TooLarge) as caught:
        _run(_client(), sink.extend, limit=2500)
    assert caught.value.limit == 2500
    assert bytes(sink) == BODY[:2000]  # nothing past the limit was written


def test_a_status_other_than_200_writes_nothing():
    sink = bytearray()
    with pytest.raises(BadStatus) as caught:
        _run(_client(404), sink.extend)
    assert caught.value.status == 404
    assert sink == bytearray()
