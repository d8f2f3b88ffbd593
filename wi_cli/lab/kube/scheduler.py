"""The part of kube-scheduler the lab's one node needs: a pod whose nodeSelector the node's
labels do not match is not bound; it stays Pending with PodScheduled False/Unschedulable and a
FailedScheduling event, as the scheduler leaves it (kubernetes.io/docs: Assigning Pods to
Nodes, nodeSelector)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import KubeCluster
    from .kubelet import Kubelet

MESSAGE = ("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
           "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")


def fits(cluster: "KubeCluster", node_name: str, spec: dict[str, Any]) -> bool:
    """The NodeAffinity filter, for what the lab models: nodeSelector."""
    node = cluster.store.try_get("nodes", None, node_name)
    labels = ((node or {}).get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in (spec.get("nodeSelector") or {}).items())


def unschedulable(kubelet: "Kubelet", pod: dict[str, Any]) -> None:
    from .kubelet import _condition

    meta = pod["metadata"]

    def status(p: dict[str, Any]) -> dict[str, Any]:
        st = kubelet._base_status(p)
        st["phase"] = "Pending"
        cond = _condition("PodScheduled", "False", "Unschedulable")
        cond["message"] = MESSAGE
        st["conditions"] = [cond]
        return st

    kubelet._set_status(meta["namespace"], meta["name"], meta["uid"], status)
    kubelet._record_event(pod, "Warning", "FailedScheduling", MESSAGE,
                          component="default-scheduler")
