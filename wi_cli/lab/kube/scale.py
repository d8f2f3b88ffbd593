"""The ``scale`` subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets and
StatefulSets, so ``kubectl scale`` works: it reads and writes ``spec.replicas``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import Request, Response, json_response
from .errors import ApiError

if TYPE_CHECKING:
    from .cluster import KubeCluster

SCALABLE = ("deployments", "replicasets", "statefulsets")


class ScaleSubresource:
    def __init__(self, cluster: "KubeCluster", plural: str) -> None:
        self.cluster = cluster
        self.plural = plural

    def __call__(self, req: Request, namespace: str, name: str) -> Response:
        try:
            obj = self.cluster.store.get(self.plural, namespace, name)
            if req.method in ("PUT", "PATCH"):
                replicas = _requested_replicas(req)
                if replicas is not None and replicas != (obj.get("spec") or {}).get("replicas"):
                    obj.setdefault("spec", {})["replicas"] = replicas
                    obj = self.cluster.store.update(self.plural, namespace, obj)
        except ApiError as exc:
            return json_response(exc.status, exc.to_status(), content_type="application/json")
        return json_response(200, scale_of(obj), content_type="application/json")


def _requested_replicas(req: Request) -> int | None:
    body = req.json()
    if isinstance(body, list):  # JSON patch
        for op in body:
            if op.get("path") == "/spec/replicas" and op.get("op") in ("replace", "add"):
                return int(op["value"])
        return None
    if isinstance(body, dict):
        value = (body.get("spec") or {}).get("replicas")
        return None if value is None else int(value)
    return None


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                          "creationTimestamp") if k in meta},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                   "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))},
    }


def install_scale(cluster: "KubeCluster") -> None:
    for plural in SCALABLE:
        handler = ScaleSubresource(cluster, plural)
        for method in ("GET", "PUT", "PATCH"):
            cluster.register_subresource(plural, "scale", method, handler)
