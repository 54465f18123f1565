"""A 1 GB blob streams through the proxy with the server's memory flat."""

import hashlib

import httpx
import pytest

from tests.support.bigblob import push_big_image
from tests.support.helpers import own_registry_credentials

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIZE = 1024**3


def test_a_1gb_blob_streams_with_flat_server_memory(wave_server, registry):
    digest = push_big_image(registry, "bench/big", SIZE, credentials=own_registry_credentials(registry))
    token = wave_server.request_container({"containerImage": f"{registry}/bench/big:latest"})["containerToken"]
    url = f"{wave_server.url}/v2/wt/{token}/bench/big/blobs/{digest}"
    httpx.get(url, headers={"Range": "bytes=0-0"})  # warm the path: imports, pools, caches
    peak_before = wave_server.peak_rss_kib()

    received, sha = 0, hashlib.sha256()
    with httpx.stream("GET", url, timeout=600) as response:
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(SIZE)
        for chunk in response.iter_raw():
            received += len(chunk)
            sha.update(chunk)
    assert received == SIZE and "sha256:" + sha.hexdigest() == digest

    growth_mib = (wave_server.peak_rss_kib() - peak_before) / 1024
    assert growth_mib < 64, f"the server's peak memory grew by {growth_mib:.0f} MiB while streaming 1 GiB"
