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


def _statefulset(obj: dict[str, Any], creating: bool) -> None:
    """SetDefaults_StatefulSet (apps/v1): an explicit ``type: RollingUpdate`` without
    ``rollingUpdate`` keeps no partition, as in Kubernetes."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        strategy["rollingUpdate"].setdefault("partition", 0)
    policy = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)
    if creating:  # replicas and availableReplicas have no omitempty in StatefulSetStatus
        obj["status"] = {"replicas": 0, "availableReplicas": 0}


DS_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _daemonset(obj: dict[str, Any], creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)
    if creating:
        # the API server's TemplateGeneration, shown as this annotation in apps/v1
        obj.setdefault("metadata", {}).setdefault("annotations", {})[DS_TEMPLATE_GENERATION] = "1"
        obj["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                         "desiredNumberScheduled": 0, "numberReady": 0}


def _job_spec(spec: dict[str, Any]) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy",
                    "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    _template(spec)


def _job(obj: dict[str, Any], creating: bool) -> None:
    """SetDefaults_Job (batch/v1); the selector comes later, with the uid (job_selector)."""
    spec = obj.setdefault("spec", {})
    _job_spec(spec)
    _copy_template_labels(obj)
    if creating:
        obj["status"] = {}


def _copy_template_labels(obj: dict[str, Any]) -> None:
    labels = ((obj["spec"].get("template") or {}).get("metadata") or {}).get("labels")
    meta = obj.setdefault("metadata", {})
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)


JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def job_selector(obj: dict[str, Any]) -> None:
    """generateSelector, which the Job strategy runs once the object has its uid: the pods get
    job-name and controller-uid labels (legacy and batch.kubernetes.io/ forms) and the selector
    picks the controller uid, unless ``manualSelector`` is true."""
    spec = obj["spec"]
    if spec.get("manualSelector"):
        return
    meta = obj["metadata"]
    labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, meta["name"])
    for key in CONTROLLER_UID_LABELS:
        labels.setdefault(key, meta["uid"])
    selector = spec.get("selector") or {}
    selector.setdefault("matchLabels", {}).setdefault(CONTROLLER_UID_LABELS[1], meta["uid"])
    spec["selector"] = selector
    _copy_template_labels(obj)  # what defaulting on the next read does for an unlabelled Job


def _cronjob(obj: dict[str, Any], creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.setdefault("jobTemplate", {})
    _template(job_template.setdefault("spec", {}))
    if creating:
        obj["status"] = {}


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
    "deployments": _deployment, "replicasets": _replicaset, "statefulsets": _statefulset,
    "daemonsets": _daemonset, "jobs": _job, "cronjobs": _cronjob,
    "mutatingwebhookconfigurations": _webhooks,
}


def apply(rt: ResourceType, obj: dict[str, Any], creating: bool = False) -> None:
    from . import crds

    fn = _DEFAULTERS.get(rt.plural)
    if fn:
        fn(obj, creating)
    elif rt.plural == crds.CRDS:
        crds.defaults(obj, creating)
    elif crds.is_custom(rt):
        rt.prepare(obj, creating)  # type: ignore[attr-defined]


def with_uid(rt: ResourceType, obj: dict[str, Any]) -> None:
    """What a create strategy does once the object has its name and uid, before validation."""
    if rt.plural == "jobs":
        job_selector(obj)


def on_update(rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
    """PrepareForUpdate of the DaemonSet strategy: a new pod template bumps TemplateGeneration."""
    if rt.plural != "daemonsets":
        return
    old_value = ((old.get("metadata") or {}).get("annotations") or {}).get(
        DS_TEMPLATE_GENERATION, "1")
    changed = (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template")
    value = str(int(old_value) + 1) if changed and old_value.isdigit() else old_value
    new.setdefault("metadata", {}).setdefault("annotations", {})[DS_TEMPLATE_GENERATION] = value
