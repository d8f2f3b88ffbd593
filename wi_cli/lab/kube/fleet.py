"""Several AKS clusters in one lab: a fleet. Each cluster has its own API server, service account
issuer and webhook add-on; Entra, ARM and the issuer host are shared, as they are in Azure.

* :func:`add_fleet_cluster` adds one more AKS cluster to a seeded lab (same subscription and
  resource group unless told otherwise).
* :func:`delete_aks_cluster` is ``az aks delete``: ARM lists the cluster no more, its issuer's
  documents are gone (the blob answers 404 ``BlobNotFound``, as a deleted cluster's issuer does),
  and its API server stops. Federated credentials that trusted it stay on their identities.
* :func:`unreachable_server` is a ``https://127.0.0.1:PORT`` URL on which nothing listens (a
  socket bound but not listening, so the port stays taken and connections are refused), the
  kubeconfig entry of a cluster that is down or gone.
* :func:`fleet_kubeconfig` writes one kubeconfig with a context per cluster, as
  ``az aks get-credentials`` run for each would leave it.
* The ``fleet`` scenario (``wi lab up --scenario fleet``): ``bound`` plus a second AKS cluster
  ``wi-lab-aks-2`` whose ``demo/wi-lab-sa`` is bound to the same identity (a second credential,
  its own issuer), and a context ``wi-lab-aks-gone`` whose server is unreachable.
"""

from __future__ import annotations

import base64
import socket
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ..runtime import Lab
    from .cluster import KubeCluster
    from .scenarios import Seeded

SECOND_CLUSTER = "wi-lab-aks-2"
GONE_CONTEXT = "wi-lab-aks-gone"


def add_fleet_cluster(lab: "Lab", seeded: "Seeded", name: str, *,
                      subscription_id: str | None = None, resource_group: str | None = None,
                      location: str = "westeurope") -> "KubeCluster":
    """One more AKS cluster (OIDC issuer, workload identity, the add-on), with namespace demo."""
    from .aks import add_aks_cluster

    cluster = add_aks_cluster(lab, subscription_id or seeded.subscription_id,
                              resource_group or seeded.resource_group or "wi-lab-rg", name,
                              location, oidc_issuer=True, workload_identity=True)
    cluster.store.create("namespaces", None, {"metadata": {"name": "demo"}})
    return cluster


def issuer_of(cluster: "KubeCluster") -> str:
    return str(cluster.aks.record.issuer_url)  # type: ignore[attr-defined]


def delete_aks_cluster(lab: "Lab", cluster: "KubeCluster") -> str:
    """``az aks delete``; returns the issuer URL the cluster had (its documents now 404)."""
    link = cluster.aks  # type: ignore[attr-defined]
    issuer = link.record.issuer_url or link.issuer.public_url
    with lab.azure.lock:
        lab.azure.clusters.pop(link.record.id.lower(), None)
    link.issuer.disable_public()  # the blob goes: GET answers 404 BlobNotFound
    lab.kube_clusters.pop(cluster.name, None)
    if cluster.server in lab.servers:
        lab.servers.remove(cluster.server)
    cluster.server.stop()
    return str(issuer)


def unreachable_server(lab: "Lab") -> str:
    """An https URL on 127.0.0.1 where nothing listens, for as long as the lab runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    lab.on_stop(sock.close)
    return f"https://127.0.0.1:{sock.getsockname()[1]}"


def fleet_kubeconfig(lab: "Lab", clusters: list["KubeCluster"],
                     unreachable: dict[str, str] | None = None,
                     current: str | None = None) -> str:
    """A kubeconfig with one context per cluster (named after it, with its own user) and one per
    ``unreachable`` entry (context name -> server URL); the current context is ``current`` or
    the first cluster's."""
    ca = base64.b64encode(lab.ca.cert_pem).decode()
    clusters_, contexts, users = [], [], []
    entries = [(c.name, c.url, c.admin_token) for c in clusters]
    entries += [(name, url, "unused-" + name) for name, url in (unreachable or {}).items()]
    for name, url, token in entries:
        user = f"clusterUser_{name}"
        clusters_.append({"name": name, "cluster": {"certificate-authority-data": ca,
                                                    "server": url}})
        contexts.append({"name": name, "context": {"cluster": name, "user": user}})
        users.append({"name": user, "user": {"token": token}})
    config: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": clusters_,
                              "contexts": contexts,
                              "current-context": current or (entries[0][0] if entries else ""),
                              "preferences": {}, "users": users}
    return yaml.safe_dump(config, sort_keys=False)


def bind_service_account(lab: "Lab", cluster: "KubeCluster", identity: Any, namespace: str,
                         name: str, annotations: dict[str, str] | None = None,
                         credential: bool = True) -> None:
    """What ``wi bind`` leaves: the annotated service account and, with ``credential``, the
    identity's federated credential for this cluster's issuer (old enough to have propagated)."""
    from .store import ApiError
    from .webhook import CLIENT_ID_ANNOTATION

    try:
        cluster.store.create("namespaces", None, {"metadata": {"name": namespace}})
    except ApiError as err:
        if err.status != 409:
            raise
    cluster.store.create("serviceaccounts", namespace, {"metadata": {
        "name": name, "namespace": namespace,
        "annotations": {CLIENT_ID_ANNOTATION: identity.client_id, **(annotations or {})}}})
    if credential:
        fic = lab.azure.add_fic(identity, f"{cluster.name}-{namespace}-{name}"[:120],
                                issuer_of(cluster), f"system:serviceaccount:{namespace}:{name}")
        fic.created_at -= 3600


def seed_fleet(lab: "Lab") -> "Seeded":
    from .scenarios import NAMESPACE, SERVICE_ACCOUNT, seed_bound

    seeded = seed_bound(lab)
    seeded.scenario = "fleet"
    assert seeded.cluster is not None and seeded.identity is not None
    for fic in seeded.identity.fics.values():
        fic.created_at -= 3600
    second = add_fleet_cluster(lab, seeded, SECOND_CLUSTER)
    bind_service_account(lab, second, seeded.identity, NAMESPACE, SERVICE_ACCOUNT)
    seeded.kubeconfig = fleet_kubeconfig(lab, [seeded.cluster, second],
                                         {GONE_CONTEXT: unreachable_server(lab)})
    return seeded
