"""Who sees the private side of a build or a request, on the pages `detailsUri` and Nextflow's links
open and in the build API.

Public by id, as Wave's pages are: whoever got the id (a build id in a failure's `detailsUri`, a
request id) sees status, image, digest, platform, times and reason. A build's recipe, conda file,
lock, log and owner stay with the owner's org and operators: a recipe or a log can carry what its
author would not publish. A build nobody owns (an anonymous request's) has no one to keep it for and
stays public whole, as in Wave, so that its anonymous requester can read why it failed. A request's
config, address and pulls are always private.
"""

from __future__ import annotations


def sees_private(user, owner_id: int | None, org: str) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return user.is_staff or (owner_id is not None and owner_id == user.pk) or bool(org and org == user.org)


def sees_build_private(user, build) -> bool:
    return (build.user_id is None and not build.org) or sees_private(user, build.user_id, build.org)
