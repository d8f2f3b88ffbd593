"""Importing this package registers every check, in layer order."""

from . import cluster, identity, live, rbac, webhook, workload  # noqa: F401
