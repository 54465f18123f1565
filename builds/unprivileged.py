"""`python -P -m builds.unprivileged <uid> <gid> <module> [args...]`: import `module`, become uid:gid
with no other group, then run `module.main(args)` and exit with what it returns.

The worker starts this as root because its Python may live where the build user cannot read
(`/root/.pyenv`): the interpreter and the module are loaded first, then every privilege is dropped
before `main` touches any untrusted input. No Django here.
"""

from __future__ import annotations

import importlib
import os
import sys

from builds.process import die_with_parent


def become(uid: int, gid: int) -> None:
    if (os.getuid(), os.getgid()) != (uid, gid):
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    die_with_parent()  # a change of user clears the parent-death signal: arm it again
    os.umask(0o077)


def main() -> None:
    uid, gid, module, args = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    target = importlib.import_module(module)
    become(uid, gid)
    sys.exit(target.main(args))


if __name__ == "__main__":
    main()
