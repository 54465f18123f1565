"""The commands that pull an image, for the pages that hand it to a user (the request and the build page).

A name is either an OCI image (`host/path:tag`, what a token or a Dockerfile build gives) or an ORAS
artifact (`oras://host/path:tag`, a frozen Singularity build: one SIF file pushed as an artifact, as
`apptainer push oras://` does; builds/sif.py). Docker and Podman pull only the first; Singularity and
Apptainer pull both, an OCI image through `docker://` (converted to a SIF on their side).
"""

from __future__ import annotations

from typing import NamedTuple

ORAS = "oras://"


class PullCommand(NamedTuple):
    tool: str
    command: str


def pull_commands(image: str) -> list[PullCommand]:
    if image.startswith(ORAS):
        return [
            PullCommand("Singularity", f"singularity pull {image}"),
            PullCommand("Apptainer", f"apptainer pull {image}"),
            PullCommand("Nextflow", f"process.container = '{image}'\nsingularity.enabled = true"),
            PullCommand("Nextflow run", f"nextflow run <pipeline> -with-singularity {image}"),
        ]
    return [
        PullCommand("Docker", f"docker pull {image}"),
        PullCommand("Podman", f"podman pull {image}"),
        PullCommand("Singularity", f"singularity pull docker://{image}"),
        PullCommand("Apptainer", f"apptainer pull docker://{image}"),
        PullCommand("Nextflow", f"process.container = '{image}'\ndocker.enabled = true"),
        PullCommand("Nextflow run", f"nextflow run <pipeline> -with-docker {image}"),
    ]
