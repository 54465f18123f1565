"""The build sandbox: what user-controlled steps run in, and the only way out of it (see README, Security)."""

from .spec import SandboxSpec, sandboxed

__all__ = ["SandboxSpec", "sandboxed"]
