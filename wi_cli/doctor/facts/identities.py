"""Facts about the identities the service accounts in scope name: the identities, their
federated credentials and their role assignments (one list per identity, fetched concurrently;
one subscription-wide list when many identities are in scope)."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.models import (
    WI_CLIENT_ID,
    WI_TENANT_ID,
    FederatedCredential,
    Identity,
    RoleAssignment,
    ServiceAccount,
)
from . import Context, Scope, fact
from .workloads import Key

# above this many identities in scope, one subscription-wide list (a few pages) is cheaper than
# one filtered list per identity
PER_IDENTITY_LISTS_UP_TO = 20


@dataclass(frozen=True)
class Binding:
    """A service account in scope that names an identity with its client-id annotation."""

    namespace: str
    name: str
    client_id: str
    tenant_id: str | None  # the tenant-id annotation, when set and non-empty
    identity: Identity | None  # the user-assigned identity with that client id, if readable

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)


@fact
def identities(ctx: Context) -> list[Identity]:
    if ctx.azure is None:
        return []
    return ctx.azure.identities.list(ctx.azure.subscription)


@fact
def client_ids_in_scope(scope: Scope, service_accounts: list[ServiceAccount],
                        service_accounts_by_key: dict[Key, ServiceAccount]) -> set[str]:
    """Client ids the service accounts in scope are annotated with. Read from the service
    accounts alone (not from `subjects`, which also waits for the pod list), so the identity
    calls can start as soon as the service accounts are listed."""
    if scope.service_account:
        sa = service_accounts_by_key.get((scope.namespace, scope.service_account))
        candidates = [sa] if sa is not None else []
    else:
        candidates = service_accounts
    return {sa.client_id.lower() for sa in candidates if sa.client_id}


@fact
def identities_by_client_id(identities: list[Identity]) -> dict[str, Identity]:
    return {i.client_id.lower(): i for i in identities}


@fact
def identities_by_principal_id(identities: list[Identity]) -> dict[str, Identity]:
    return {i.principal_id.lower(): i for i in identities}


@fact
def bindings(subjects: list[Key], service_accounts_by_key: dict[Key, ServiceAccount],
             identities_by_client_id: dict[str, Identity]) -> list[Binding]:
    """The subjects whose service account names a client id (the identity is None when it is
    not a user-assigned identity of the subscription)."""
    found = []
    for ns, name in subjects:
        sa = service_accounts_by_key.get((ns, name))
        annotations = sa.metadata.annotations if sa is not None else {}
        client_id = (annotations.get(WI_CLIENT_ID) or "").strip()
        if not client_id:
            continue
        tenant = (annotations.get(WI_TENANT_ID) or "").strip() or None
        ident = identities_by_client_id.get(client_id.lower())
        found.append(Binding(ns, name, client_id, tenant, ident))
    return found


def _wanted(identities: list[Identity], client_ids: set[str]) -> list[Identity]:
    return [i for i in identities if i.client_id.lower() in client_ids]


@fact
def fics(ctx: Context, identities: list[Identity],
         client_ids_in_scope: set[str]) -> dict[str, list[FederatedCredential]]:
    """Federated credentials of every identity the service accounts in scope point at, by the
    identity's resource id key."""
    if ctx.azure is None:
        return {}
    azure = ctx.azure
    wanted = _wanted(identities, client_ids_in_scope)
    return dict(zip((i.id.key for i in wanted),
                    ctx.map(azure.identities.credentials, wanted)))


@fact
def role_assignments(ctx: Context, identities: list[Identity],
                     client_ids_in_scope: set[str]) -> dict[str, list[RoleAssignment]]:
    """Role assignments (subscription and below) of every identity in scope, by principalId."""
    if ctx.azure is None:
        return {}
    azure = ctx.azure
    principals = sorted({i.principal_id.lower()
                         for i in _wanted(identities, client_ids_in_scope)})
    if len(principals) > PER_IDENTITY_LISTS_UP_TO:
        out: dict[str, list[RoleAssignment]] = {p: [] for p in principals}
        for ra in azure.rbac.all_assignments(azure.subscription):
            if ra.principal_id.lower() in out:
                out[ra.principal_id.lower()].append(ra)
        return out
    return dict(zip(principals, ctx.map(
        lambda p: azure.rbac.assignments_of(p, azure.subscription), principals)))


@fact
def role_names(ctx: Context, role_assignments: dict[str, list[RoleAssignment]]) -> dict[str, str]:
    """Role definition GUID -> role name, for the roles assigned to the identities in scope."""
    if ctx.azure is None:
        return {}
    azure = ctx.azure
    guids = sorted({ra.role_guid for ras in role_assignments.values() for ra in ras})
    return dict(zip(guids, ctx.map(lambda g: azure.rbac.role_name(g, azure.subscription),
                                   guids)))
