"""What checking a token's grant costs on the pull path: two servers (say this branch and the
commit before it, on the same stack) measured interleaved, so that a busy machine slows both alike.

Needs the anonymous pull limit raised (see benchmarks/proxy.py) and `library/multiarch:latest` in
the registry (the tests push it). Prints, per server, the p50 of a small upstream blob GET (one
grant lookup each) and of a token's first pull of a 2-platform index plus one of its entries.

    .venv/bin/python benchmarks/token_grant.py http://localhost:9090 http://localhost:9091 --registry localhost:5000
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

ACCEPT = {"Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"}


def token(client: httpx.Client, server: str, image: str) -> str:
    response = client.post(f"{server}/v1alpha2/container", json={"containerImage": image})
    response.raise_for_status()
    return response.json()["containerToken"]


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code == 200, response.text
    return response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("servers", nargs="+")
    parser.add_argument("--registry", default="localhost:5000")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    with httpx.Client(timeout=60) as client:
        blobs = {}
        for server in args.servers:
            t = token(client, server, f"{args.registry}/library/busybox:latest")
            config = ok(client.get(f"{server}/v2/wt/{t}/library/busybox/manifests/latest", headers=ACCEPT)).json()["config"]
            blobs[server] = f"{server}/v2/wt/{t}/library/busybox/blobs/{config['digest']}"
        blob_times = {server: [] for server in args.servers}
        for _ in range(args.requests):
            for server, url in blobs.items():
                blob_times[server].append(timed(lambda: ok(client.get(url))))
        first_pulls = {server: [] for server in args.servers}
        for _ in range(args.tokens):
            for server in args.servers:
                base = f"{server}/v2/wt/{token(client, server, f'{args.registry}/library/multiarch:latest')}/library/multiarch/manifests"

                def pull() -> None:
                    entry = ok(client.get(f"{base}/latest", headers=ACCEPT)).json()["manifests"][0]["digest"]
                    ok(client.get(f"{base}/{entry}", headers=ACCEPT))

                first_pulls[server].append(timed(pull))
    for server in args.servers:
        print(
            f"{server}: small blob GET p50 {statistics.median(blob_times[server]) * 1000:.2f} ms ({args.requests}); "
            f"first index + entry p50 {statistics.median(first_pulls[server]) * 1000:.1f} ms ({args.tokens} tokens)"
        )


if __name__ == "__main__":
    main()
