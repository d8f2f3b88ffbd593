"""Importing this package registers every check (and the facts they read)."""

from .. import sources  # noqa: F401
from . import cluster, identity, live, rbac, webhook, workload  # noqa: F401
