"""Built-in admission plugins that run before any webhook (the real order: ServiceAccount is a
compiled-in mutating plugin, MutatingAdmissionWebhook comes after it)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .errors import forbidden
from .resources import resource

if TYPE_CHECKING:
    from .store import AdmissionRequest, KubeStore

SA_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def service_account_plugin(req: "AdmissionRequest", store: "KubeStore") -> None:
    """Default ``spec.serviceAccountName``, refuse a missing ServiceAccount, and mount the
    ``kube-api-access-*`` projected token volume, as the ServiceAccount plugin does."""
    if req.plural != "pods" or req.operation != "CREATE":
        return
    pod = req.obj
    spec = pod.setdefault("spec", {})
    sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = sa_name
    spec["serviceAccount"] = sa_name
    sa = store.try_get("serviceaccounts", req.namespace, sa_name)
    if sa is None:
        meta = pod.get("metadata") or {}
        raise forbidden(resource("pods"), meta.get("name") or meta.get("generateName") or "",
                        f"error looking up service account {req.namespace}/{sa_name}: "
                        f'serviceaccount "{sa_name}" not found')
    if _should_automount(spec, sa) and not _has_sa_mount(spec):
        _mount_api_access(spec)


def _should_automount(spec: dict[str, Any], sa: dict[str, Any]) -> bool:
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if sa.get("automountServiceAccountToken") is not None:
        return bool(sa["automountServiceAccountToken"])
    return True


def _has_sa_mount(spec: dict[str, Any]) -> bool:
    return any(m.get("mountPath") == SA_MOUNT_PATH
               for c in spec.get("containers") or [] for m in c.get("volumeMounts") or [])


def _mount_api_access(spec: dict[str, Any]) -> None:
    name = "kube-api-access-" + "".join(secrets.choice(_SUFFIX_CHARS) for _ in range(5))
    spec.setdefault("volumes", []).append({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt",
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            container.setdefault("volumeMounts", []).append(
                {"name": name, "readOnly": True, "mountPath": SA_MOUNT_PATH})
