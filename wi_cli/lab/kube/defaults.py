"""Defaulting the API server applies when it decodes an object (SetDefaults_* in Kubernetes),
plus the fields a create resets (a new Pod is Pending; a new Deployment has an empty status)."""

from __future__ import annotations

import base64
import ipaddress
import itertools
from typing import Any, Callable

from .resources import ResourceType

_service_ips = itertools.count(10)


def _container(c: dict[str, Any]) -> None:
    image = c.get("image") or ""
    tag = image.rsplit("/", 1)[-1]
    if "imagePullPolicy" not in c:
        latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
        c["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")


def pod_spec(spec: dict[str, Any]) -> None:
    for c in itertools.chain(spec.get("initContainers") or [], spec.get("containers") or []):
        _container(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for vol in spec.get("volumes") or []:
        for key in ("secret", "configMap", "projected"):
            if key in vol and isinstance(vol[key], dict):
                vol[key].setdefault("defaultMode", 420)


def _pod(obj: dict[str, Any], creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    if "serviceAccountName" in spec:
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    if creating:
        tolerations = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == key for t in tolerations):
                tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": 300})
        obj["status"] = {"phase": "Pending", "qosClass": _qos(spec)}


def _qos(spec: dict[str, Any]) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(r.get("limits") and all(
        (r.get("requests") or r["limits"]).get(k) == v for k, v in r["limits"].items())
        and set(r["limits"]) >= {"cpu", "memory"} for r in resources)
    return "Guaranteed" if guaranteed else "Burstable"


def _namespace(obj: dict[str, Any], creating: bool) -> None:
    name = (obj.get("metadata") or {}).get("name")
    if name:
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    if creating:
        obj["status"] = {"phase": "Active"}


def _secret(obj: dict[str, Any], creating: bool) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def _service(obj: dict[str, Any], creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = str(ipaddress.ip_address("10.0.0.0") + next(_service_ips))
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if creating:
        obj["status"] = {"loadBalancer": {}}


def _template(spec: dict[str, Any]) -> None:
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec(template.setdefault("spec", {}))


def _deployment(obj: dict[str, Any], creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("maxUnavailable", "25%")
        strategy["rollingUpdate"].setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec)
    if creating:
        obj["status"] = {}


def _replicaset(obj: dict[str, Any], creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _template(spec)
    if creating:
        obj["status"] = {"replicas": 0}


def _webhooks(obj: dict[str, Any], creating: bool) -> None:
    for hook in obj.get("webhooks") or []:
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("reinvocationPolicy", "Never")
        hook.setdefault("timeoutSeconds", 10)
        service = (hook.get("clientConfig") or {}).get("service")
        if service is not None:
            service.setdefault("port", 443)
        for rule in hook.get("rules") or []:
            rule.setdefault("scope", "*")


_DEFAULTERS: dict[str, Callable[[dict[str, Any], bool], None]] = {
    "pods": _pod, "namespaces": _namespace, "secrets": _secret, "services": _service,
    "deployments": _deployment, "replicasets": _replicaset,
    "mutatingwebhookconfigurations": _webhooks,
}


def apply(rt: ResourceType, obj: dict[str, Any], creating: bool = False) -> None:
    fn = _DEFAULTERS.get(rt.plural)
    if fn:
        fn(obj, creating)
