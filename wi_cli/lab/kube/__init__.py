"""The lab's Kubernetes: an API server emulator over an in-memory store.

``KubeCluster(lab)`` builds one cluster (store + HTTPS API server registered on the lab) and
starts its workload controllers and garbage collector (``controllers``), so Deployments,
StatefulSets, DaemonSets and Jobs get their pods through admission and ``kubectl rollout``
works; ``aks.add_aks_cluster`` adds the issuer, the kubelet and the webhook add-on.
"""

from .cluster import KubeCluster
from .store import AdmissionDenied, AdmissionHook, AdmissionRequest, ApiError, KubeStore

__all__ = ["AdmissionDenied", "AdmissionHook", "AdmissionRequest", "ApiError", "KubeCluster",
           "KubeStore"]
