"""What `wi bind` and `wi unbind` share: the adapters they use, which identity and issuer a
request names (read, never guessed), the roles and scopes it names, and the permission pre-checks
that refuse before any write (see ../shared/DESIGN.md §5: a write touches only what it names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import (
    AzureForbidden,
    AzureNotFound,
    ConfigError,
    ConflictError,
    KubernetesError,
    UsageError,
)
from .models import (
    MAX_ISSUER,
    Identity,
    PermissionBlock,
    ResourceId,
    in_cluster_issuer,
    is_issuer_url,
    is_scope,
    permits,
)
from .names import IdentityRef
from .plan import UNCHANGED, Step
from .ports import Clusters, Identities, Rbac, Workloads

FIC_WRITE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
FIC_DELETE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete"
ROLE_WRITE = "Microsoft.Authorization/roleAssignments/write"
ROLE_DELETE = "Microsoft.Authorization/roleAssignments/delete"
FIC = "FederatedIdentityCredential"


@dataclass
class Ports:
    identities: Identities
    rbac: Rbac
    clusters: Clusters
    workloads: Workloads
    subscription: str | None  # where identities given by name or client id are looked up


# -- requests and outcomes ------------------------------------------------------------------------

@dataclass
class Target:
    """Which issuer: given, an AKS cluster's, the `wi provision` state's, or the current
    context's (in that order)."""

    issuer: str | None = None
    cluster: str | None = None
    resource_group: str | None = None
    state_cluster: tuple[str, str] | None = None  # (name, resource group) from `wi provision`


@dataclass
class Outcome:
    command: str
    identity: Identity
    subject: str
    issuers: list[str]
    issuer_source: str
    audience: str
    steps: list[Step]
    notes: list[str]
    dry_run: bool
    next_command: str | None = None
    audience_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "identity": {"id": str(ident.id), "name": ident.name,
                         "resource_group": ident.resource_group,
                         "subscription": ident.subscription, "client_id": ident.client_id,
                         "principal_id": ident.principal_id, "tenant_id": ident.tenant_id},
            "subject": self.subject,
            "issuer": self.issuers[0] if len(self.issuers) == 1 else None,
            "issuers": self.issuers, "issuer_source": self.issuer_source,
            "audience": self.audience, "audience_source": self.audience_source,
            "dry_run": self.dry_run,
            "steps": [s.to_json() for s in self.steps], "notes": list(self.notes),
            "next": self.next_command,
        }


# -- validation (no I/O) ----------------------------------------------------------------------------

def check_target(cluster: str | None, resource_group: str | None, issuer: str | None) -> None:
    if cluster and not resource_group:
        raise UsageError("--cluster needs --resource-group.",
                         ["Pass both, e.g. --cluster my-aks --resource-group my-rg."])
    if issuer is not None and not is_issuer_url(issuer):
        raise UsageError(f"The issuer must be an https URL with a host and no query or "
                         f"fragment, at most {MAX_ISSUER} characters, got {issuer!r}.",
                         ["Pass the issuer exactly as the cluster puts it in its tokens "
                          "(az aks show --query oidcIssuerProfile.issuerUrl)."])


def check_roles(roles: list[tuple[str, str]]) -> None:
    for role, scope in roles:
        if not role.strip():
            raise UsageError("--role is empty.", ["Pass a role name or its GUID."])
        if any(ord(c) < 32 or ord(c) == 127 for c in role):
            raise UsageError(f"--role {role!r} has a control character; no Azure role name has.",
                             ["Pass a role name as 'az role definition list' shows it, or its "
                              "GUID."])
        if not is_scope(scope):
            raise UsageError(f"--scope {scope!r} is not an Azure scope.",
                             ["A scope is /subscriptions/ID, /subscriptions/ID/resourceGroups/RG "
                              "or a resource id."])


# -- reads ----------------------------------------------------------------------------------------

IDENTITY_TYPE = ("Microsoft.ManagedIdentity", "userAssignedIdentities")


def resolve_identity(ports: Ports, ref: IdentityRef, resource_group: str | None) -> Identity:
    """A resource id is looked up in ITS subscription; a name or client id in --subscription."""
    if ref.kind == "id":
        rid = ResourceId.parse(ref.value)
    elif ref.kind == "name" and resource_group:
        rid = ResourceId(_subscription(ports), resource_group, *IDENTITY_TYPE, ref.value)
    else:
        rid = None
    if rid is not None:
        found = ports.identities.get(rid)
        if found is None:
            raise ConfigError(f"No user-assigned identity {rid.name!r} in resource group "
                              f"{rid.resource_group} of subscription {rid.subscription}.",
                              ["Check the name and resource group ('az identity list -o "
                               "table')."])
        return found
    subscription = _subscription(ports)
    everything = ports.identities.list(subscription)
    if ref.kind == "client_id":
        hits = [i for i in everything if i.client_id.lower() == ref.value]
        if not hits:
            by_principal = [i for i in everything if i.principal_id.lower() == ref.value]
            hint = (f"{ref.value} is the principalId of '{by_principal[0].name}'; pass its "
                    f"clientId {by_principal[0].client_id} (or its name)."
                    if by_principal else "Check the client id ('az identity list'), or pass "
                    "--subscription, or the identity's resource id.")
            raise ConfigError(f"No user-assigned identity with client id {ref.value} in "
                              f"subscription {subscription}.", [hint])
        return hits[0]
    hits = [i for i in everything if i.name.lower() == ref.value.lower()]
    if not hits:
        raise ConfigError(f"No user-assigned identity named {ref.value!r} in subscription "
                          f"{subscription}.",
                          ["Check the name ('az identity list -o table'), pass --subscription, "
                           "or pass the identity's full resource id."])
    if len(hits) > 1:
        groups = ", ".join(sorted(i.resource_group for i in hits))
        raise UsageError(f"{len(hits)} identities are named {ref.value!r} (resource groups: "
                         f"{groups}).", ["Pick one with --identity-resource-group RG."])
    return hits[0]


def _subscription(ports: Ports) -> str:
    if not ports.subscription:
        raise ConfigError("No Azure subscription is selected.",
                          ["Pass --subscription ID or set AZURE_SUBSCRIPTION_ID."])
    return ports.subscription


def trusted_issuer(ports: Ports, target: Target) -> tuple[str, str]:
    """The issuer a new credential may trust: an issuer only the cluster can resolve is refused
    (removing a credential of one, as `wi unbind` does, stays possible)."""
    issuer, source = resolve_issuer(ports, target)
    if in_cluster_issuer(issuer):
        raise ConflictError(f"The issuer {issuer} ({source}) is the in-cluster one, which Entra "
                            "cannot reach: the cluster's OIDC issuer is off, so no federated "
                            "credential can trust its tokens; nothing was changed.",
                            ["AKS: az aks update -g RG -n CLUSTER --enable-oidc-issuer "
                             "--enable-workload-identity, then run this command again."])
    return issuer, source


def resolve_issuer(ports: Ports, target: Target) -> tuple[str, str]:
    """(issuer, where it came from)."""
    if target.issuer:
        return target.issuer, "--issuer"
    named = ((target.cluster, target.resource_group)
             if target.cluster and target.resource_group else target.state_cluster)
    if named:
        name, rg = named
        cluster = ports.clusters.get(rg, name)
        if cluster is None:
            raise ConfigError(f"No AKS cluster {name!r} in resource group {rg}.",
                              ["Check --cluster and --resource-group ('az aks list -o table')."])
        if not cluster.issuer_url:
            raise ConflictError(f"The OIDC issuer of AKS cluster {name} is off, so Entra cannot "
                                "trust its service-account tokens.",
                                [f"az aks update -g {rg} -n {name} --enable-oidc-issuer "
                                 "--enable-workload-identity"])
        return cluster.issuer_url, f"AKS cluster {name}"
    issuer = ports.workloads.issuer()
    if not issuer:
        raise ConfigError("The cluster does not publish an OIDC issuer.",
                          ["Pass --issuer URL, or name the AKS cluster with --cluster and "
                           "--resource-group."])
    return issuer, "the API server's discovery document"


def find_role(ports: Ports, role: str, scope: str) -> Any:
    try:
        found = ports.rbac.role(role, scope)
    except AzureNotFound:
        raise ConfigError(f"The scope {scope} does not exist.",
                          ["Check the --scope resource id ('az resource show --ids ...')."]) \
            from None
    if found is None:
        raise ConfigError(f"No role named {role!r} at {scope}.",
                          ["Check the name ('az role definition list --name ROLE') or pass the "
                           "role's GUID."])
    return found


# -- permission pre-checks -----------------------------------------------------------------------

def require_azure(blocks: list[PermissionBlock] | None, action: str, where: str,
                   command: str) -> None:
    """Refuse before writing when ARM's permissions API says the operator may not do it; when
    ARM will not say (None), the write itself will tell."""
    if blocks is not None and not permits(blocks, action):
        raise AzureForbidden(f"The operator lacks permission '{action}' on {where}, so '{command}' "
                             "would fail there; nothing was changed.",
                             [f"Ask an Owner to grant a role that includes {action} at that scope "
                              "(or above), then run the command again."], status=403)


def require_kube(ports: Ports, checks: list[tuple[str, str, str | None, str]],
                  command: str) -> None:
    for verb, resource, namespace, group in checks:
        try:
            allowed = ports.workloads.can(verb, resource, namespace, group)
        except KubernetesError as exc:
            if exc.status in (403, 404):  # the review API itself is closed: the write will tell
                continue
            raise
        if not allowed:
            where = f" in namespace {namespace}" if namespace else ""
            raise KubernetesError(f"The kubeconfig's user may not {verb} {resource}{where}, so "
                                  f"'{command}' would fail there; nothing was changed.",
                                  [f"Ask a cluster admin for RBAC that allows {verb} on "
                                   f"{resource}{where} ('kubectl auth can-i {verb} {resource}"
                                   f"{' -n ' + namespace if namespace else ''}')."],
                                  status=403, reason="Forbidden")


def mark_dry_run(steps: list[Step]) -> None:
    for s in steps:
        if not s.writes:
            s.status = UNCHANGED


