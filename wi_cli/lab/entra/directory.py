"""Who is who in the lab's tenants: a tenant named by GUID or verified domain, and the service
principal a client id names in it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..azure_state import ServicePrincipal
from .aadsts import EntraError

if TYPE_CHECKING:
    from ..runtime import Lab

_TENANT_SHAPE = re.compile(r"^[A-Za-z0-9.-]+$")  # a GUID or a DNS name
MULTI_TENANT_ALIASES = frozenset({"common", "organizations", "consumers"})


def tenant_id(lab: "Lab", tenant: str) -> str:
    """The tenant's GUID from its GUID or one of its verified domains ("in GUID or
    domain-name format": entra-docs v2-oauth2-client-creds-grant-flow); EntraError 90002 for
    an unknown tenant, 900023 for something that is neither."""
    tid = tenant.lower()
    if not _TENANT_SHAPE.match(tenant):
        raise EntraError(900023, tenant=tenant)
    with lab.azure.lock:
        if tid in lab.azure.tenants:
            return tid
        if tid in lab.azure.tenant_domains:
            return lab.azure.tenant_domains[tid]
    raise EntraError(90002, tenant=tenant)


def principal(lab: "Lab", tid: str, client_id: str) -> ServicePrincipal:
    sp = lab.azure.principal_by_client_id(client_id)
    if sp is None or sp.tenant_id.lower() != tid:
        raise EntraError(700016, client_id=client_id, tenant=tid)
    return sp
