"""The lab's Azure world: tenants, subscriptions, principals, identities, FICs, roles, clusters.

One object shared by the Entra and ARM emulators (and seeded by tests, ``wi lab up`` and the
admin HTTP path). Everything is in memory and guarded by one re-entrant lock; ids follow the
real formats (GUIDs, ARM resource ids with ``resourceGroups``). Lookups of names and ids are
case-insensitive, as ARM's are; FIC issuer/subject/audience are kept exactly as written.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable


KEY_VAULT_TYPE = "Microsoft.KeyVault/vaults"
STORAGE_ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"


def new_guid() -> str:
    return str(uuid.uuid4())


@dataclass
class Subscription:
    subscription_id: str
    tenant_id: str
    display_name: str
    state: str = "Enabled"

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription_id}"


@dataclass
class ResourceGroup:
    subscription_id: str
    name: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.name}"


@dataclass
class ServicePrincipal:
    """An Entra service principal: an operator app (with a secret) or a managed identity's SP."""

    tenant_id: str
    client_id: str  # appId
    object_id: str  # the principalId role assignments name
    display_name: str
    secret: str | None = None
    identity_resource_id: str | None = None  # set for a managed identity's service principal


@dataclass
class FederatedCredential:
    name: str
    issuer: str
    subject: str
    audiences: list[str]
    created_at: float = field(default_factory=time.time)


@dataclass
class UserAssignedIdentity:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    tenant_id: str
    client_id: str
    principal_id: str
    tags: dict[str, str] = field(default_factory=dict)
    fics: dict[str, FederatedCredential] = field(default_factory=dict)  # key: name.lower()
    created_at: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{self.name}")


@dataclass
class RoleDefinition:
    name: str  # GUID
    role_name: str
    role_type: str  # BuiltInRole | CustomRole
    description: str
    assignable_scopes: list[str]
    permissions: list[dict[str, list[str]]]

    def body(self, id_prefix: str = "") -> dict[str, Any]:
        return {
            "id": f"{id_prefix}/providers/Microsoft.Authorization/roleDefinitions/{self.name}",
            "name": self.name,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "roleName": self.role_name,
                "type": self.role_type,
                "description": self.description,
                "assignableScopes": list(self.assignable_scopes),
                "permissions": [dict(p) for p in self.permissions],
                "createdOn": "2015-02-02T21:55:09.8806423Z",
                "updatedOn": "2024-01-01T00:00:00.0000000Z",
                "createdBy": None,
                "updatedBy": None,
            },
        }


@dataclass
class RoleAssignment:
    name: str  # GUID
    scope: str
    role_definition_id: str  # full id, /subscriptions/{sub}/providers/... or /providers/...
    principal_id: str
    principal_type: str = "ServicePrincipal"
    description: str | None = None
    created_on: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return f"{self.scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{self.name}"

    @property
    def role_guid(self) -> str:
        return self.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


@dataclass
class ManagedCluster:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    oidc_issuer_enabled: bool = True
    issuer_url: str | None = None  # set when the issuer is enabled (ends in "/")
    workload_identity_enabled: bool = True
    kubernetes_version: str = "1.33.2"
    fqdn: str | None = None
    dns_prefix: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    kubelet_identity: dict[str, str] | None = None
    # the pod-managed identity add-on (aad-pod-identity run by AKS), ARM's podIdentityProfile
    # shape: {"enabled", "userAssignedIdentities": [{"name", "namespace", "bindingSelector",
    # "identity": {"resourceId", "clientId", "objectId"}}], "userAssignedIdentityExceptions"};
    # None: never enabled, and the property is absent
    pod_identity_profile: dict[str, Any] | None = None
    # returns the user kubeconfig YAML; wired by the Kubernetes half of the lab
    kubeconfig: Callable[[], str] | None = None
    # called when ARM flips the OIDC issuer on/off, so the lab cluster changes its token issuer
    on_change: Callable[["ManagedCluster"], None] | None = None

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.ContainerService/managedClusters/{self.name}")


def load_builtin_roles() -> list[RoleDefinition]:
    data = json.loads(
        resources.files("wi_cli.lab").joinpath("data/builtin-role-definitions.json").read_text()
    )
    roles = []
    for item in data["value"]:
        p = item["properties"]
        roles.append(RoleDefinition(
            name=item["name"], role_name=p["roleName"], role_type=p["type"],
            description=p.get("description", ""), assignable_scopes=p["assignableScopes"],
            permissions=p["permissions"],
        ))
    return roles


class AzureState:
    """Everything the Entra and ARM emulators know. Mutate only through these methods."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: set[str] = set()
        self.tenant_domains: dict[str, str] = {}  # verified domain (lower) -> tenant id
        self.subscriptions: dict[str, Subscription] = {}  # key: id lower
        self.resource_groups: dict[str, ResourceGroup] = {}  # key: "sub/rg" lower
        self.principals: dict[str, ServicePrincipal] = {}  # key: client_id lower
        self.identities: dict[str, UserAssignedIdentity] = {}  # key: resource id lower
        self.role_definitions: dict[str, RoleDefinition] = {
            r.name.lower(): r for r in load_builtin_roles()
        }
        self.role_assignments: dict[str, RoleAssignment] = {}  # key: name lower
        self.clusters: dict[str, ManagedCluster] = {}  # key: resource id lower
        # Entra's propagation window for a new or changed FIC (0 = off): an exchange that needs
        # a FIC of age t in the window does not see it with probability
        # refusal_probability(t, window), drawn from ``propagation_rng`` (seed it for tests)
        self.fic_propagation_seconds = 0.0
        self.propagation_rng = random.Random()
        # deterministic refusals: "identity id lower" or "identity id lower/fic name lower" ->
        # [exchanges left to refuse, forced AADSTS code or None]; see refuse_next
        self.refusals: dict[str, list[Any]] = {}
        # ARM sends systemData (createdAt, lastModifiedAt) on FICs; real responses may omit it
        self.system_data = True
        # ARM: items per list page (nextLink beyond), and how long one FIC write holds its
        # identity (another write to that identity meanwhile gets 409 Conflict)
        self.page_size = 100
        self.fic_write_seconds = 0.05
        # generic per-type resources the data-plane checks need (Key Vault, Storage), by id lower
        self.resources: dict[str, dict[str, Any]] = {}
        # resource provider registration per subscription: sub lower -> namespace lower -> state
        # (NotRegistered, Registering, Registered, Unregistering); unset means Registered
        self.provider_states: dict[str, dict[str, str]] = {}

    # -- seeding ------------------------------------------------------------------------------
    def add_tenant(self, tenant_id: str | None = None, domain: str | None = None) -> str:
        """A tenant and its initial verified domain (``NAME.onmicrosoft.com``, which Entra
        accepts wherever the tenant GUID goes)."""
        tid = tenant_id or new_guid()
        with self.lock:
            self.tenants.add(tid.lower())
            self.tenant_domains[(domain or f"wilab{tid[:8]}.onmicrosoft.com").lower()] = \
                tid.lower()
        return tid

    def tenant_domain(self, tenant_id: str) -> str:
        """The tenant's first verified domain."""
        with self.lock:
            return next(d for d, t in self.tenant_domains.items() if t == tenant_id.lower())

    def add_subscription(self, tenant_id: str, subscription_id: str | None = None,
                         display_name: str = "wi lab subscription") -> Subscription:
        sub = Subscription(subscription_id or new_guid(), tenant_id, display_name)
        with self.lock:
            self.tenants.add(tenant_id.lower())
            self.subscriptions[sub.subscription_id.lower()] = sub
        return sub

    def add_resource_group(self, subscription_id: str, name: str,
                           location: str = "westeurope") -> ResourceGroup:
        rg = ResourceGroup(subscription_id, name, location)
        with self.lock:
            self.resource_groups[f"{subscription_id}/{name}".lower()] = rg
        return rg

    def add_service_principal(self, tenant_id: str, display_name: str = "wi-operator",
                              *, client_id: str | None = None, object_id: str | None = None,
                              with_secret: bool = True) -> ServicePrincipal:
        sp = ServicePrincipal(
            tenant_id=tenant_id, client_id=client_id or new_guid(),
            object_id=object_id or new_guid(), display_name=display_name,
            secret=secrets.token_urlsafe(30) if with_secret else None,
        )
        with self.lock:
            self.tenants.add(tenant_id.lower())
            self.principals[sp.client_id.lower()] = sp
        return sp

    def add_identity(self, subscription_id: str, resource_group: str, name: str,
                     location: str | None = None, *, client_id: str | None = None,
                     principal_id: str | None = None) -> UserAssignedIdentity:
        with self.lock:
            sub = self.subscriptions[subscription_id.lower()]
            rg = self.get_resource_group(subscription_id, resource_group)
            if rg is None:
                rg = self.add_resource_group(subscription_id, resource_group)
            ident = UserAssignedIdentity(
                subscription_id=sub.subscription_id, resource_group=rg.name, name=name,
                location=location or rg.location, tenant_id=sub.tenant_id,
                client_id=client_id or new_guid(), principal_id=principal_id or new_guid(),
            )
            self.identities[ident.id.lower()] = ident
            self.principals[ident.client_id.lower()] = ServicePrincipal(
                tenant_id=sub.tenant_id, client_id=ident.client_id,
                object_id=ident.principal_id, display_name=name,
                identity_resource_id=ident.id,
            )
        return ident

    def add_fic(self, identity: UserAssignedIdentity, name: str, issuer: str, subject: str,
                audiences: list[str] | None = None) -> FederatedCredential:
        fic = FederatedCredential(name, issuer, subject,
                                  audiences or ["api://AzureADTokenExchange"])
        with self.lock:
            identity.fics[name.lower()] = fic
        return fic

    def refuse_next(self, identity: UserAssignedIdentity, count: int, fic: str | None = None,
                    code: int | None = None) -> None:
        """Make Entra not see ``identity``'s FIC ``fic`` (any of its FICs when None) for the next
        ``count`` exchanges that need it, as while it propagates; ``count`` 0 clears. ``code``
        forces the answer (70021, the legacy code the Entra doc names for propagation, or
        700016 for an identity not replicated yet); by default Entra answers what it answers
        without that FIC (70025, 700211 or 700213)."""
        key = identity.id.lower() + (f"/{fic.lower()}" if fic else "")
        with self.lock:
            if count > 0:
                self.refusals[key] = [int(count), code]
            else:
                self.refusals.pop(key, None)

    def take_refusal(self, identity: UserAssignedIdentity,
                     fic: FederatedCredential) -> tuple[bool, int | None]:
        """Whether a deterministic refusal is pending for this FIC (and use it up): (refused,
        forced code)."""
        with self.lock:
            for key in (f"{identity.id.lower()}/{fic.name.lower()}", identity.id.lower()):
                pending = self.refusals.get(key)
                if pending:
                    pending[0] -= 1
                    if pending[0] <= 0:
                        del self.refusals[key]
                    return True, pending[1]
        return False, None

    def set_provider_state(self, subscription_id: str, namespace: str, state: str) -> None:
        with self.lock:
            self.provider_states.setdefault(subscription_id.lower(), {})[namespace.lower()] = state

    def provider_state(self, subscription_id: str, namespace: str) -> str | None:
        with self.lock:
            return self.provider_states.get(subscription_id.lower(), {}).get(namespace.lower())

    def role_by_name(self, role_name: str) -> RoleDefinition:
        for r in self.role_definitions.values():
            if r.role_name.lower() == role_name.lower():
                return r
        raise KeyError(role_name)

    def add_role_assignment(self, scope: str, role: str, principal_id: str,
                            principal_type: str = "ServicePrincipal",
                            name: str | None = None) -> RoleAssignment:
        """``role`` is a role name ("Reader") or a role definition GUID."""
        with self.lock:
            rd = self.role_definitions.get(role.lower()) or self.role_by_name(role)
            sub = scope.split("/")[2] if scope.lower().startswith("/subscriptions/") else None
            rd_id = (f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{rd.name}"
                     if sub else f"/providers/Microsoft.Authorization/roleDefinitions/{rd.name}")
            ra = RoleAssignment(name or new_guid(), scope, rd_id, principal_id, principal_type)
            self.role_assignments[ra.name.lower()] = ra
        return ra

    def add_cluster(self, cluster: ManagedCluster) -> ManagedCluster:
        with self.lock:
            if self.get_resource_group(cluster.subscription_id, cluster.resource_group) is None:
                self.add_resource_group(cluster.subscription_id, cluster.resource_group,
                                        cluster.location)
            self.clusters[cluster.id.lower()] = cluster
        return cluster

    def add_key_vault(self, subscription_id: str, resource_group: str, name: str,
                      location: str | None = None,
                      secrets: dict[str, str] | None = None) -> dict[str, Any]:
        """A Key Vault (RBAC authorization) in ``resources``; its data plane serves ``secrets``."""
        return self._add_resource(subscription_id, resource_group, KEY_VAULT_TYPE, name,
                                  location, secrets=dict(secrets or {}))

    def add_storage_account(self, subscription_id: str, resource_group: str, name: str,
                            location: str | None = None,
                            containers: dict[str, dict[str, bytes]] | None = None
                            ) -> dict[str, Any]:
        """A storage account in ``resources``; ``containers``: container -> blob name -> bytes."""
        return self._add_resource(subscription_id, resource_group, STORAGE_ACCOUNT_TYPE, name,
                                  location, containers={c: dict(b) for c, b in
                                                        (containers or {}).items()})

    def _add_resource(self, subscription_id: str, resource_group: str, rtype: str, name: str,
                      location: str | None, **data: Any) -> dict[str, Any]:
        with self.lock:
            sub = self.subscriptions[subscription_id.lower()]
            rg = self.get_resource_group(subscription_id, resource_group)
            if rg is None:
                rg = self.add_resource_group(subscription_id, resource_group)
            rid = (f"/subscriptions/{sub.subscription_id}/resourceGroups/{rg.name}"
                   f"/providers/{rtype}/{name}")
            resource = {"id": rid, "type": rtype, "name": name,
                        "subscription_id": sub.subscription_id, "resource_group": rg.name,
                        "location": location or rg.location, "tenant_id": sub.tenant_id,
                        "created_at": time.time(), **data}
            self.resources[rid.lower()] = resource
        return resource

    def resource_named(self, rtype: str, name: str) -> dict[str, Any] | None:
        """A Key Vault or storage account by its (globally unique) name."""
        with self.lock:
            for resource in self.resources.values():
                if resource["type"].lower() == rtype.lower() and \
                        resource["name"].lower() == name.lower():
                    return resource
        return None

    # -- lookups ------------------------------------------------------------------------------
    def get_resource_group(self, subscription_id: str, name: str) -> ResourceGroup | None:
        return self.resource_groups.get(f"{subscription_id}/{name}".lower())

    def principal_by_client_id(self, client_id: str) -> ServicePrincipal | None:
        return self.principals.get(client_id.lower())

    def principal_by_object_id(self, object_id: str) -> ServicePrincipal | None:
        for sp in self.principals.values():
            if sp.object_id.lower() == object_id.lower():
                return sp
        return None

    def identity_by_client_id(self, client_id: str) -> UserAssignedIdentity | None:
        for ident in self.identities.values():
            if ident.client_id.lower() == client_id.lower():
                return ident
        return None

    def identity(self, subscription_id: str, resource_group: str,
                 name: str) -> UserAssignedIdentity | None:
        rid = (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
               f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}")
        return self.identities.get(rid.lower())

    def cluster(self, subscription_id: str, resource_group: str, name: str) -> ManagedCluster | None:
        rid = (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
               f"/providers/Microsoft.ContainerService/managedClusters/{name}")
        return self.clusters.get(rid.lower())

    def assignments_for(self, principal_id: str) -> list[RoleAssignment]:
        return [ra for ra in self.role_assignments.values()
                if ra.principal_id.lower() == principal_id.lower()]
