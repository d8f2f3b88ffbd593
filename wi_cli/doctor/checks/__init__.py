"""Importing this package registers every check, in layer order."""

from . import cluster, identity, live, rbac, token_source, webhook, workload  # noqa: F401
