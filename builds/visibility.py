"""Who sees the private side of a build or a request, on the pages `detailsUri` and Nextflow's links
open and in the build API.

Public by id, as Wave's pages are: whoever got the id (a build id in a failure's `detailsUri`, a
request id) sees status, image, digest, platform, times and reason. A build's recipe, conda file,
lock, log and owner stay with the owner's org and operators: a recipe or a log can carry what its
author would not publish. A build nobody owns (an anonymous request's) has no one to keep it for and
stays public whole, as in Wave, so that its anonymous requester can read why it failed. The reason
is public without the lines of the log it quotes (`public_reason`). A request's
config, address and pulls are always private.
"""

from __future__ import annotations


def sees_private(user, owner_id: int | None, org: str) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return user.is_staff or (owner_id is not None and owner_id == user.pk) or bool(org and org == user.org)


def sees_build_private(user, build) -> bool:
    return (build.user_id is None and not build.org) or sees_private(user, build.user_id, build.org)


# A build that ended before public reasons were recorded: its reason may quote its log.
REASON_IN_LOG = "The reason quotes the build's log, which is shown to its owner's organisation and operators"


def public_reason(build) -> str:
    """The reason whoever may not read the log is shown: without the log's lines it quotes (a failing
    step's line quotes the recipe's command, and a command can print a secret)."""
    if not build.reason:
        return ""
    return build.public_reason or REASON_IN_LOG
