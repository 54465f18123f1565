"""Who sees a record's private side on the pages that `detailsUri` and Nextflow's links open.

The pages are public by id, as Wave's are: whoever got the id (a build id in a failure's
`detailsUri`, a request id) sees status, image, digest, platform, times and reason. The recipe, conda
file, lock, log, owner and a request's config, address and pulls stay with the owner's org and operators:
a recipe or a log can carry what its author would not publish.
"""

from __future__ import annotations


def sees_private(user, owner_id: int | None, org: str) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_staff or (owner_id is not None and owner_id == user.pk) or bool(org and org == user.org)
