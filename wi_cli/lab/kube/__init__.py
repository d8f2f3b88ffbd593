"""The lab's Kubernetes: an API server emulator over an in-memory store.

``KubeCluster(lab)`` builds one cluster (store + HTTPS API server registered on the lab).
"""

from .cluster import KubeCluster
from .store import AdmissionDenied, AdmissionHook, AdmissionRequest, ApiError, KubeStore

__all__ = ["AdmissionDenied", "AdmissionHook", "AdmissionRequest", "ApiError", "KubeCluster",
           "KubeStore"]
