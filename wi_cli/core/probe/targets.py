"""The request checked, and what the operator's credentials show before the pod runs: the
identity the service account names (listed once) and its credentials with their ages, and the
scopes and data planes the agent is pointed at."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ..errors import ConfigError, UsageError, WiError
from ..models import (
    ArmResource,
    ArmView,
    Cluster,
    Identity,
    ProbeRequest,
    ProbeTargets,
    cluster_behind,
)
from ..names import check_namespace, check_service_account
from ..ports import ArmResources, Clusters, Identities, ProbePods

KEYVAULT_API = "2023-07-01"
STORAGE_API = "2023-05-01"
_STORAGE_TARGET = re.compile(r"^([a-z0-9]{3,24})/([a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$")
_VAULT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")


@dataclass
class ProbePorts:
    pods: ProbePods
    identities: Identities | None = None  # None: no subscription selected
    resources: ArmResources | None = None
    subscription: str | None = None
    clusters: Clusters | None = None

    def aks_cluster(self) -> Cluster | None:
        """The AKS cluster the probe ran on, for fixes that name it (None: not found or not
        readable; the fix keeps its placeholders)."""
        if self.clusters is None:
            return None
        try:
            return cluster_behind(self.clusters.list(), self.pods.server)[0]
        except WiError:
            return None


def validate(req: ProbeRequest) -> None:
    check_namespace(req.namespace)
    check_service_account(req.service_account)
    if not req.image or any(ch.isspace() for ch in req.image):
        raise UsageError(f"--image must be an image reference, got {req.image!r}.")
    if not (1 <= req.timeout <= 3600):
        raise UsageError(f"--timeout must be between 1 and 3600 seconds, got {req.timeout:g}.")
    if req.keyvault and not (req.keyvault.lower().startswith("/subscriptions/")
                             or _VAULT_NAME.match(req.keyvault)):
        raise UsageError(f"--check-keyvault takes a vault name or resource id, got "
                         f"{req.keyvault!r}.", ["A vault name is 3-24 letters, digits and "
                                                "hyphens, starting with a letter."])
    if req.storage and not _STORAGE_TARGET.match(req.storage):
        raise UsageError(f"--check-storage takes ACCOUNT/CONTAINER, got {req.storage!r}.",
                         ["e.g. --check-storage mystorageacct/data (lower-case account and "
                          "container names)."])


def resolve(req: ProbeRequest, ports: ProbePorts,
            client_id: str | None) -> tuple[ProbeTargets, ArmView]:
    """The agent's targets and what ARM says about the identity with ``client_id``. Only the
    data planes asked for must be found; the identity is looked up once and, when it cannot
    be, the probe still runs (one scope fewer, no propagation hints)."""
    targets = ProbeTargets()
    subscription = ports.subscription
    if ports.identities is None or ports.resources is None or not subscription:
        if req.keyvault or req.storage:
            raise ConfigError("No Azure subscription is selected.",
                              ["Pass --subscription ID or set AZURE_SUBSCRIPTION_ID."])
        targets.notes.append("No subscription selected: the agent inspects the subscriptions "
                             "it can see.")
        return targets, ArmView()
    targets.scopes.append(f"/subscriptions/{subscription}")
    identity: Identity | None = None
    found = False
    if client_id:
        try:
            identity = next((i for i in ports.identities.list(subscription)
                             if i.client_id.lower() == client_id.lower()), None)
            found = True
        except WiError as exc:
            targets.notes.append(f"Could not find the identity's resource group: {exc.message}")
    if identity is not None:
        targets.scopes.append(f"/subscriptions/{identity.subscription}/resourceGroups/"
                              f"{identity.resource_group}")
    if req.keyvault:
        vault = _find(ports.resources, subscription, "Microsoft.KeyVault/vaults", KEYVAULT_API,
                      req.keyvault, "Key Vault")
        targets.keyvault_id = vault.id
        targets.keyvault_uri = vault.properties.get("vaultUri")
        if not targets.keyvault_uri:
            raise ConfigError(f"Key Vault {req.keyvault} has no vaultUri in ARM.")
        targets.scopes.append(vault.id)
    if req.storage:
        account_name, container = req.storage.split("/", 1)
        account = _find(ports.resources, subscription, "Microsoft.Storage/storageAccounts",
                        STORAGE_API, account_name, "storage account")
        blob = (account.properties.get("primaryEndpoints") or {}).get("blob")
        if not blob:
            raise ConfigError(f"Storage account {account_name} has no blob endpoint.")
        targets.storage_id = account.id
        targets.blob_container_url = blob.rstrip("/") + "/" + container
        targets.scopes.append(f"{account.id}/blobServices/default/containers/{container}")
    return targets, (_arm_view(ports.identities, identity) if found else ArmView())


def _find(resources: ArmResources, subscription: str, rtype: str, api_version: str, ref: str,
          what: str) -> ArmResource:
    if ref.lower().startswith("/subscriptions/"):
        found = resources.get(ref, api_version)
        if found is None:
            raise ConfigError(f"No {what} {ref}.", ["Check the resource id, or pass the name."])
        return found
    found = resources.named(subscription, rtype, api_version, ref)
    if found is None:
        raise ConfigError(f"No {what} named {ref!r} in subscription {subscription}.",
                          ["Check the name and the subscription (--subscription), or pass the "
                           "full resource id."])
    return found


def _arm_view(identities: Identities, identity: Identity | None) -> ArmView:
    """The identity and its credentials as ARM shows them now (an identity in another
    subscription: readable, but nothing to say)."""
    if identity is None:
        return ArmView(readable=True, now=time.time())
    try:
        credentials = identities.credentials(identity)
    except WiError:
        return ArmView()
    return ArmView(True, identity, tuple(credentials), time.time())
