"""Named starting states for the lab (``wi lab up --scenario NAME`` and tests).

* ``empty``: a tenant, a subscription and an operator service principal (with a secret) that is
  Owner on the subscription. Nothing else.
* ``healthy``: ``empty`` plus resource group ``wi-lab-rg``, AKS cluster ``wi-lab-aks`` (OIDC
  issuer, workload identity, webhook add-on), user-assigned identity ``wi-lab-identity``
  (Reader on the resource group, Key Vault Secrets User on the subscription) and namespace
  ``demo``. Nothing is bound yet: that is ``wi bind``'s job.
  It also has Key Vault ``wi-lab-kv`` (secret ``demo-secret``) and storage account
  ``wilabstorage`` (container ``demo``), served by the lab's data planes.
* ``bound``: ``healthy`` plus what ``wi bind`` would create: ServiceAccount ``demo/wi-lab-sa``
  annotated with the identity's client id, and a FIC for it on the identity; and Storage Blob
  Data Reader for the identity on ``wilabstorage``.
* ``fleet``: ``bound`` plus a second AKS cluster ``wi-lab-aks-2`` whose ``demo/wi-lab-sa`` is
  bound to the same identity, and an unreachable context ``wi-lab-aks-gone``; the kubeconfig
  has the three contexts (see ``fleet.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..azure_state import ServicePrincipal, UserAssignedIdentity

if TYPE_CHECKING:
    from ..runtime import Lab
    from .cluster import KubeCluster

RESOURCE_GROUP = "wi-lab-rg"
CLUSTER_NAME = "wi-lab-aks"
IDENTITY_NAME = "wi-lab-identity"
NAMESPACE = "demo"
SERVICE_ACCOUNT = "wi-lab-sa"
LOCATION = "westeurope"
KEY_VAULT = "wi-lab-kv"
KEY_VAULT_SECRET = "demo-secret"
STORAGE_ACCOUNT = "wilabstorage"
STORAGE_CONTAINER = "demo"


@dataclass
class Seeded:
    """What a scenario created (no secrets except on ``operator``, which callers must not print)."""

    scenario: str
    tenant_id: str
    subscription_id: str
    operator: ServicePrincipal
    resource_group: str | None = None
    cluster_name: str | None = None
    cluster: "KubeCluster | None" = None
    issuer_url: str | None = None
    identity: UserAssignedIdentity | None = None
    namespace: str | None = None
    service_account: str | None = None
    role_assignment_ids: list[str] = field(default_factory=list)
    key_vault: str | None = None  # name; the identity reads its secrets (Key Vault Secrets User)
    storage_account: str | None = None
    storage_container: str | None = None
    # the kubeconfig `wi lab up` writes when not the one of ``cluster`` (the fleet's contexts)
    kubeconfig: str | None = None

    def summary(self) -> dict[str, Any]:
        """The names and ids, for ``lab.json`` (no secret)."""
        out: dict[str, Any] = {
            "scenario": self.scenario, "tenant_id": self.tenant_id,
            "subscription_id": self.subscription_id,
            "operator": {"client_id": self.operator.client_id,
                         "object_id": self.operator.object_id,
                         "display_name": self.operator.display_name},
            "resource_group": self.resource_group, "cluster_name": self.cluster_name,
            "issuer_url": self.issuer_url, "namespace": self.namespace,
            "service_account": self.service_account,
            "role_assignment_ids": list(self.role_assignment_ids),
            "key_vault": self.key_vault, "storage_account": self.storage_account,
            "storage_container": self.storage_container,
        }
        if self.identity is not None:
            out["identity"] = {"name": self.identity.name, "id": self.identity.id,
                               "client_id": self.identity.client_id,
                               "principal_id": self.identity.principal_id}
        if self.cluster is not None:
            out["api_server"] = self.cluster.url
        return out


def seed_empty(lab: "Lab") -> Seeded:
    az = lab.azure
    tenant_id = az.add_tenant()
    sub = az.add_subscription(tenant_id, display_name="wi lab subscription")
    operator = az.add_service_principal(tenant_id, "wi-lab-operator")
    ra = az.add_role_assignment(sub.id, "Owner", operator.object_id)
    return Seeded("empty", tenant_id, sub.subscription_id, operator,
                  role_assignment_ids=[ra.id])


def seed_healthy(lab: "Lab") -> Seeded:
    from .aks import add_aks_cluster

    seeded = seed_empty(lab)
    seeded.scenario = "healthy"
    az = lab.azure
    rg = az.add_resource_group(seeded.subscription_id, RESOURCE_GROUP, LOCATION)
    cluster = add_aks_cluster(lab, seeded.subscription_id, RESOURCE_GROUP, CLUSTER_NAME,
                              LOCATION, oidc_issuer=True, workload_identity=True)
    identity = az.add_identity(seeded.subscription_id, RESOURCE_GROUP, IDENTITY_NAME, LOCATION)
    for scope, role in ((rg.id, "Reader"),
                        (f"/subscriptions/{seeded.subscription_id}", "Key Vault Secrets User")):
        seeded.role_assignment_ids.append(
            az.add_role_assignment(scope, role, identity.principal_id).id)
    cluster.store.create("namespaces", None, {"metadata": {"name": NAMESPACE}})
    # data planes for `wi probe --check-keyvault/--check-storage` (secret values never leave)
    az.add_key_vault(seeded.subscription_id, RESOURCE_GROUP, KEY_VAULT, LOCATION,
                     secrets={KEY_VAULT_SECRET: "lab-secret-value"})
    az.add_storage_account(seeded.subscription_id, RESOURCE_GROUP, STORAGE_ACCOUNT, LOCATION,
                           containers={STORAGE_CONTAINER: {"hello.txt": b"hello from the lab\n"}})
    seeded.key_vault, seeded.storage_account = KEY_VAULT, STORAGE_ACCOUNT
    seeded.storage_container = STORAGE_CONTAINER
    seeded.resource_group = rg.name
    seeded.cluster_name = CLUSTER_NAME
    seeded.cluster = cluster
    seeded.issuer_url = cluster.aks.record.issuer_url  # type: ignore[attr-defined]
    seeded.identity = identity
    seeded.namespace = NAMESPACE
    return seeded


def seed_bound(lab: "Lab") -> Seeded:
    from .webhook import CLIENT_ID_ANNOTATION

    seeded = seed_healthy(lab)
    seeded.scenario = "bound"
    assert seeded.cluster is not None and seeded.identity is not None
    seeded.cluster.store.create("serviceaccounts", NAMESPACE, {"metadata": {
        "name": SERVICE_ACCOUNT, "namespace": NAMESPACE,
        "annotations": {CLIENT_ID_ANNOTATION: seeded.identity.client_id}}})
    lab.azure.add_fic(seeded.identity, f"{CLUSTER_NAME}-{NAMESPACE}-{SERVICE_ACCOUNT}",
                      seeded.issuer_url or "",
                      f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}")
    seeded.service_account = SERVICE_ACCOUNT
    # bound only (healthy's tests count the identity's roles): read the storage container
    account_id = (f"/subscriptions/{seeded.subscription_id}/resourceGroups/{RESOURCE_GROUP}"
                  f"/providers/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}")
    seeded.role_assignment_ids.append(lab.azure.add_role_assignment(
        account_id, "Storage Blob Data Reader", seeded.identity.principal_id).id)
    return seeded


def seed_fleet(lab: "Lab") -> Seeded:
    from .fleet import seed_fleet as seed

    return seed(lab)


SCENARIOS: dict[str, Callable[["Lab"], Seeded]] = {
    "empty": seed_empty,
    "healthy": seed_healthy,
    "bound": seed_bound,
    "fleet": seed_fleet,
}


def seed(lab: "Lab", name: str) -> Seeded:
    try:
        seeder = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown lab scenario {name!r}; choose one of "
                         f"{', '.join(sorted(SCENARIOS))}") from None
    return seeder(lab)
