"""Conda images assembled without a container runtime: solved and installed with py-rattler on the
worker, packed one layer per package, pushed with the project's own OCI client."""
