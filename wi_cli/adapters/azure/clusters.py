"""AKS clusters through azure-mgmt-containerservice, as the domain's :class:`Cluster`."""

from __future__ import annotations

from typing import Any

from ...core.errors import AzureNotFound
from ...core.models import AksPodIdentity, Cluster, ResourceId
from .clients import AzureClients
from .errors import azure_errors


def to_cluster(model: Any) -> Cluster:
    oidc = model.oidc_issuer_profile
    security = getattr(model, "security_profile", None)
    wi = getattr(security, "workload_identity", None) if security else None
    enabled = bool(oidc and oidc.enabled)
    pod_identity = getattr(model, "pod_identity_profile", None)  # the pod identity add-on
    assigned = getattr(pod_identity, "user_assigned_identities", None) or []
    return Cluster(ResourceId.parse(model.id), (oidc.issuer_url if enabled else None) or None,
                   enabled, bool(wi and wi.enabled), model.fqdn or "", model.location or "",
                   bool(pod_identity and pod_identity.enabled),
                   tuple(_pod_identity(p) for p in assigned))


def _pod_identity(p: Any) -> AksPodIdentity:
    ident = getattr(p, "identity", None)
    return AksPodIdentity(p.name or "", p.namespace or "", p.binding_selector or p.name or "",
                          getattr(ident, "resource_id", None) or "",
                          (getattr(ident, "client_id", None) or "").lower())


class Clusters:
    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients

    def list(self) -> list[Cluster]:
        with azure_errors("listing AKS clusters"):
            return [to_cluster(m) for m in self.clients.containerservice.managed_clusters.list()]

    def get(self, resource_group: str, name: str) -> Cluster | None:
        try:
            with azure_errors(f"reading AKS cluster {name}"):
                return to_cluster(self.clients.containerservice.managed_clusters.get(
                    resource_group, name))
        except AzureNotFound:
            return None
