"""The API reference's examples (the Wave API reference), as OpenAPI examples of the container endpoints."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

CONTAINER_REQUEST = [
    OpenApiExample(
        "Docker image with conda packages",
        request_only=True,
        value={"packages": {"type": "CONDA", "entries": ["salmon", "bwa"], "channels": ["conda-forge", "bioconda"]}},
    ),
    OpenApiExample(
        "Docker image with conda packages",
        response_only=True,
        value={
            "containerToken": "732b73aa17c8",
            "targetImage": "0625dce899da.ngrok.app/wt/732b73aa17c8/hrma017/dev:salmon_bwa--5e49881e6ad74121",
            "expiration": "2024-04-09T21:19:01.715321Z",
            "buildId": "5e49881e6ad74121_1",
            "cached": False,
            "freeze": False,
        },
    ),
    OpenApiExample(
        "Singularity image with conda packages",
        request_only=True,
        value={
            "format": "sif",
            "containerPlatform": "arm64",
            "packages": {"type": "CONDA", "entries": ["salmon"], "channels": ["conda-forge", "bioconda"]},
            "freeze": True,
            "buildRepository": "<CONTAINER_REPOSITORY>",
            "towerAccessToken": "<YOUR_SEQERA_PLATFORM_TOWER_TOKEN>",
            "towerEndpoint": "http://localhost:8008/api",
        },
    ),
    OpenApiExample(
        "Singularity image with conda packages",
        response_only=True,
        value={
            "targetImage": "oras://<CONTAINER_REPOSITORY>:salmon--6c084f2e43f86a78",
            "buildId": "6c084f2e43f86a78_1",
            "cached": False,
            "freeze": True,
        },
    ),
    OpenApiExample(
        "Invalid request",
        response_only=True,
        status_codes=["400"],
        value={"message": "Attributes 'containerImage' and 'containerFile' cannot be used in the same request"},
    ),
    OpenApiExample(
        "Too many requests",
        response_only=True,
        status_codes=["429"],
        value={"message": "Rate limit exceeded: 25 builds a day for client 203.0.113.7 without an access token; it resets in 3600 seconds"},
    ),
]

CONTAINER_TOKEN = [
    OpenApiExample(
        "An image served through Wave",
        request_only=True,
        value={"containerImage": "docker.io/library/ubuntu:latest", "containerConfig": {"env": ["FOO=one", "BAR=two"]}},
    ),
    OpenApiExample(
        "An image served through Wave",
        response_only=True,
        value={
            "containerToken": "0123456789ab",
            "targetImage": "wave.seqera.io/wt/0123456789ab/library/ubuntu:latest",
            "expiration": "2024-04-09T21:19:01.715321Z",
            "freeze": False,
        },
    ),
]

INSPECT = [
    OpenApiExample(
        "Inspect an image",
        request_only=True,
        value={"containerImage": "docker.io/<REPO>/<IMAGE>", "towerAccessToken": "<TOWER_TOKEN>", "towerEndpoint": "http://localhost:8000/api"},
    ),
    OpenApiExample(
        "Inspect an image",
        response_only=True,
        value={
            "container": {
                "registry": "docker.io",
                "hostName": "https://registry-1.docker.io",
                "imageName": "<WAVE_TOKEN>/<REPO>/<IMAGE>",
                "reference": "9b80535d04eceefd",
                "digest": "sha256:1fcabdb850dc7c46646b3796fca01aca5721330252b586058e0d326705374dd5",
                "config": {
                    "architecture": "amd64",
                    "config": {
                        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                        "cmd": ["/bin/sh"],
                        "image": "sha256:9a5ce069f40cfe0f2270eafbff0a0f2fa08f1add73571af9f78209e96bb8a5e9",
                    },
                    "container": "4189cbc534955765760c227f328ec1cdd52e8550681c2bf9f8f990b27b644f9c",
                    "created": "2024-04-19T14:38:17.047396956Z",
                    "rootfs": {"type": "layers", "diff_ids": ["sha256:d4fc045c9e3a848011de66f34b81f052d4f2c15a17bb196d637e526349601820"]},
                },
                "manifest": {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {
                        "mediaType": "application/vnd.docker.container.image.v1+json",
                        "digest": "sha256:639823e18eb8b62cf43e92bac114ae35c03c07449e4ee5c10f8ebf8d033877d6",
                        "size": 774,
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                            "digest": "sha256:4abcf20661432fb2d719aaf90656f55c287f8ca915dc1c92ec14ff61e67fbaf8",
                            "size": 3408729,
                        }
                    ],
                },
                "v1": False,
                "v2": True,
                "oci": False,
            }
        },
    ),
]
