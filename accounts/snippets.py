"""Ready-to-paste client settings for the account page: Nextflow, wave-cli and curl, pointed at this
server with a token. The token's value exists only in the response right after it was made (only its
hash is stored), so every other time the snippets carry a placeholder."""

from __future__ import annotations

import json
import shlex

PLACEHOLDER = "<your API token>"
EXAMPLE_IMAGE = "alpine:3.20"


def snippets(server_url: str, token: str | None) -> list[dict[str, str]]:
    token = token or PLACEHOLDER
    body = json.dumps({"containerImage": EXAMPLE_IMAGE, "towerAccessToken": token})
    return [
        {"id": "nextflow", "title": "nextflow.config", "text": (
            f"wave {{\n    enabled  = true\n    endpoint = '{server_url}'\n}}\n"
            f"tower {{\n    accessToken = '{token}'\n}}\n"
        )},
        {"id": "wave-cli", "title": "wave CLI", "text": (
            f"wave --wave-endpoint {shlex.quote(server_url)} --tower-token {shlex.quote(token)} -i {EXAMPLE_IMAGE}\n"
        )},
        {"id": "curl", "title": "curl", "text": (
            f"curl -sS -H 'Content-Type: application/json' \\\n  -d {shlex.quote(body)} \\\n  {shlex.quote(server_url + '/v1alpha2/container')}\n"
        )},
    ]
