"""An AKS cluster in the lab: the ARM ``ManagedCluster`` record joined to a lab Kubernetes cluster.

:func:`add_aks_cluster` builds the API server, its service account issuer (published on the
lab's OIDC issuer host as AKS publishes it), the workload-identity add-on and the kubelet, and
records the cluster in the Azure state so ARM serves it (issuer URL, FQDN, user kubeconfig).
Flipping the OIDC issuer or workload identity through :func:`set_oidc_issuer` /
:func:`set_workload_identity` (or by calling ``record.on_change``) changes the cluster too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..azure_state import ManagedCluster
from .cluster import KubeCluster
from .kubelet import install_kubelet
from .sa_tokens import AKS_MAX_TOKEN_SECONDS, ServiceAccountIssuer, install_issuer
from .webhook import (
    AKS_SYSTEM_NAMESPACE_LABELS,
    WebhookInstallation,
    install_workload_identity_addon,
)

if TYPE_CHECKING:
    from ..runtime import Lab


@dataclass
class AksLink:
    """What ties the ARM record to the lab cluster (kept on ``cluster.aks``)."""

    record: ManagedCluster
    cluster: KubeCluster
    issuer: ServiceAccountIssuer
    tenant_id: str
    layout: str
    addon: WebhookInstallation | None = None


def add_aks_cluster(lab: "Lab", subscription_id: str, resource_group: str, name: str,
                    location: str = "westeurope", oidc_issuer: bool = True,
                    workload_identity: bool = True, layout: str = "v1.6") -> KubeCluster:
    subscription = lab.azure.subscriptions[subscription_id.lower()]
    tenant_id = subscription.tenant_id
    cluster = KubeCluster(lab, name)
    issuer = install_issuer(cluster, tenant_id, public=oidc_issuer,
                            issuer_guid=str(uuid.uuid4()))
    issuer.max_expiration_seconds = AKS_MAX_TOKEN_SECONDS
    _label_system_namespace(cluster)
    install_kubelet(cluster)
    record = ManagedCluster(
        subscription_id=subscription.subscription_id, resource_group=resource_group, name=name,
        location=location, oidc_issuer_enabled=oidc_issuer,
        issuer_url=issuer.public_url if oidc_issuer else None,
        workload_identity_enabled=workload_identity,
        fqdn=urlsplit(cluster.url).netloc,
        dns_prefix=f"{name[:30]}-dns",
        kubeconfig=lambda: cluster.kubeconfig(user=f"clusterUser_{resource_group}_{name}"),
    )
    link = AksLink(record, cluster, issuer, tenant_id, layout)
    record.on_change = lambda rec: _sync(link)
    cluster.aks = link  # type: ignore[attr-defined]
    if workload_identity:
        link.addon = install_workload_identity_addon(cluster, tenant_id, layout)
    lab.azure.add_cluster(record)
    _attach(lab, cluster)
    return cluster


def _label_system_namespace(cluster: KubeCluster) -> None:
    """AKS labels kube-system so the admissions enforcer's selectors exclude it."""
    ns = cluster.store.get("namespaces", None, "kube-system")
    ns["metadata"].setdefault("labels", {}).update(AKS_SYSTEM_NAMESPACE_LABELS)
    cluster.store.update("namespaces", None, ns)


def _attach(lab: "Lab", cluster: KubeCluster) -> None:
    clusters: dict[str, Any] | None = getattr(lab, "kube_clusters", None)
    if clusters is None:
        clusters = {}
        lab.kube_clusters = clusters
    clusters[cluster.name] = cluster
    if getattr(lab, "kube", None) is None:
        lab.kube = cluster
    on_stop = getattr(lab, "on_stop", None)
    if callable(on_stop):
        kubelet = getattr(cluster, "kubelet", None)
        if kubelet is not None:
            on_stop(kubelet.stop)


def _sync(link: AksLink) -> None:
    """Make the lab cluster follow its ARM record (issuer on/off, add-on on/off)."""
    record, issuer = link.record, link.issuer
    if record.oidc_issuer_enabled and not issuer.public:
        issuer.enable_public()
    elif not record.oidc_issuer_enabled and issuer.public:
        issuer.disable_public()
    record.issuer_url = issuer.public_url if record.oidc_issuer_enabled else None
    if record.workload_identity_enabled and link.addon is None:
        link.addon = install_workload_identity_addon(link.cluster, link.tenant_id, link.layout)
    elif not record.workload_identity_enabled and link.addon is not None:
        _remove_addon(link)


def _remove_addon(link: AksLink) -> None:
    if link.addon is not None:
        link.addon.uninstall()
    link.addon = None


def set_oidc_issuer(cluster: KubeCluster, enabled: bool) -> None:
    """``az aks update --enable-oidc-issuer`` (or its lab-only opposite)."""
    link: AksLink = cluster.aks  # type: ignore[attr-defined]
    link.record.oidc_issuer_enabled = enabled
    _sync(link)


def set_workload_identity(cluster: KubeCluster, enabled: bool) -> None:
    """``az aks update --enable-workload-identity`` / ``--disable-workload-identity``."""
    link: AksLink = cluster.aks  # type: ignore[attr-defined]
    link.record.workload_identity_enabled = enabled
    _sync(link)
