"""A small OCI/Docker registry library with no Django imports.

Values in, values out: references, digests, platforms and manifests are frozen value types; the
registry client is the only thing here that talks to the network.
"""
