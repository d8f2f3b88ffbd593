"""aad-pod-identity as wi reads it, and the workloads it serves: the custom objects
(``aadpodidentity.k8s.io/v1`` AzureIdentity, AzureIdentityBinding, AzurePodIdentityException),
the AKS add-on's ``podIdentityProfile``, and Deployments, StatefulSets, DaemonSets, Jobs,
CronJobs and bare pods with their pod templates (and the objects as read, for backups and
manifests). Pure values and rules; nothing here does I/O."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Optional

from .k8s import ObjectMeta, from_json
from .objects import LabelSelector
from .pods import Pod, PodTemplateSpec

POD_IDENTITY_GROUP, POD_IDENTITY_VERSION = "aadpodidentity.k8s.io", "v1"
POD_IDENTITY_LABEL = "aadpodidbinding"  # pods select a binding with this label's value
# AzureIdentity annotation: match pods in the identity's namespace only (or MIC/NMI
# --forceNamespaced=true / FORCENAMESPACED=true for every identity)
NAMESPACED_ANNOTATION = "aadpodidentity.k8s.io/Behavior"
LEGACY_IMDS_ANNOTATION = "wi.azure.io/legacy-imds"  # wi's: this workload calls IMDS itself
INJECT_PROXY_ANNOTATION = "azure.workload.identity/inject-proxy-sidecar"
USER_ASSIGNED = 0  # AzureIdentity spec.type: 0 user-assigned MSI, 1 SP secret, 2 SP certificate
IDENTITY_TYPES = {0: "user-assigned managed identity", 1: "service principal (client secret)",
                  2: "service principal (certificate)"}

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod")


@dataclass(frozen=True)
class AzureIdentity:
    namespace: str
    name: str
    type: Optional[int]
    resource_id: str = ""
    client_id: str = ""
    tenant_id: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def user_assigned(self) -> bool:
        return self.type in (None, USER_ASSIGNED)

    @property
    def kind_text(self) -> str:
        return IDENTITY_TYPES.get(self.type if self.type is not None else 0,
                                  f"type {self.type}")


@dataclass(frozen=True)
class AzureIdentityBinding:
    namespace: str
    name: str
    azure_identity: str
    selector: str
    weight: Optional[int] = None

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PodIdentityException:
    namespace: str
    name: str
    pod_labels: dict[str, str] = field(default_factory=dict)


def _meta(doc: dict[str, Any]) -> dict[str, Any]:
    return doc.get("metadata") or {}


def azure_identity(doc: dict[str, Any]) -> AzureIdentity:
    """From the object's JSON (its fields are spelled resourceID, clientID, tenantID)."""
    spec, meta = doc.get("spec") or {}, _meta(doc)
    kind = spec.get("type")
    return AzureIdentity(meta.get("namespace") or "", meta.get("name") or "",
                         kind if isinstance(kind, int) else None,
                         str(spec.get("resourceID") or "").strip(),
                         str(spec.get("clientID") or "").strip().lower(),
                         str(spec.get("tenantID") or "").strip(),
                         dict(meta.get("annotations") or {}))


def identity_binding(doc: dict[str, Any]) -> AzureIdentityBinding:
    spec, meta = doc.get("spec") or {}, _meta(doc)
    weight = spec.get("weight")
    return AzureIdentityBinding(meta.get("namespace") or "", meta.get("name") or "",
                                str(spec.get("azureIdentity") or ""),
                                str(spec.get("selector") or ""),
                                weight if isinstance(weight, int) else None)


def pod_identity_exception(doc: dict[str, Any]) -> PodIdentityException:
    meta = _meta(doc)
    return PodIdentityException(meta.get("namespace") or "", meta.get("name") or "",
                                dict((doc.get("spec") or {}).get("podLabels") or {}))


@dataclass(frozen=True)
class AksPodIdentity:
    """One entry of an AKS cluster's podIdentityProfile (``az aks pod-identity add``)."""

    name: str
    namespace: str
    binding_selector: str
    resource_id: str
    client_id: str


# -- workloads ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """A Deployment, StatefulSet, DaemonSet, Job, CronJob or bare pod: its pod template (a bare
    pod's own metadata and spec), its pod selector, and the object as read (``raw``)."""

    kind: str
    namespace: str
    name: str
    template: PodTemplateSpec
    selector: Optional[LabelSelector] = None
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def key(self) -> str:
        """Its key in the backup ConfigMap: ``deployment.web``."""
        return f"{self.kind.lower()}.{self.name}"

    @property
    def service_account(self) -> str:
        return self.template.spec.service_account

    @property
    def controller(self) -> str | None:
        """The kind of the object that owns it (a Job's CronJob, a pod's ReplicaSet...)."""
        ref = self.metadata.controller
        return ref.kind if ref is not None else None


def template_path(kind: str) -> tuple[str, ...]:
    """Where the pod template lives in the object (a bare pod is its own template)."""
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template")
    if kind == "Pod":
        return ()
    return ("spec", "template")


def template_json(kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    node: Any = raw
    for key in template_path(kind):
        node = (node or {}).get(key) if isinstance(node, dict) else None
    if kind == "Pod":
        return {"metadata": copy.deepcopy(_meta(raw)), "spec": copy.deepcopy(raw.get("spec")
                                                                               or {})}
    return copy.deepcopy(node or {})


def nest(kind: str, template_patch: dict[str, Any]) -> dict[str, Any]:
    """A patch of the pod template, placed where ``kind`` keeps its template."""
    out: dict[str, Any] = template_patch
    for key in reversed(template_path(kind)):
        out = {key: out}
    return out


def workload(kind: str, doc: dict[str, Any]) -> Workload:
    meta = from_json(ObjectMeta, _meta(doc))
    template = template_json(kind, doc)
    selector = (doc.get("spec") or {}).get("selector") if kind != "CronJob" else None
    return Workload(kind, meta.namespace or "", meta.name, from_json(PodTemplateSpec, template),
                    from_json(LabelSelector, selector) if isinstance(selector, dict) else None,
                    meta, doc)


def selector_matches(selector: LabelSelector | None, labels: dict[str, str]) -> bool:
    """matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist), as the API does."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for req in selector.match_expressions:
        has, value = req.key in labels, labels.get(req.key)
        if ((req.operator == "In" and value not in req.values)
                or (req.operator == "NotIn" and has and value in req.values)
                or (req.operator == "Exists" and not has)
                or (req.operator == "DoesNotExist" and has)):
            return False
    return True


def rollout_state(w: Workload) -> tuple[bool, str]:
    """(done, what it waits for), as ``kubectl rollout status`` reads a workload's status."""
    status, spec = w.raw.get("status") or {}, w.raw.get("spec") or {}
    if w.kind in ("CronJob", "Job", "Pod"):
        return True, ""  # no rollout: the next run (or the re-created pod) uses the template
    if (status.get("observedGeneration") or 0) < (w.metadata.generation or 0):
        return False, "waiting for the controller to see the new template"
    if w.kind == "DaemonSet":
        want = status.get("desiredNumberScheduled") or 0
        if (status.get("updatedNumberScheduled") or 0) < want:
            return False, f"{status.get('updatedNumberScheduled') or 0} of {want} pods updated"
        if (status.get("numberAvailable") or 0) < want:
            return False, f"{status.get('numberAvailable') or 0} of {want} updated pods available"
        return True, ""
    want = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    if updated < want:
        return False, f"{updated} of {want} replicas updated"
    if w.kind == "StatefulSet":
        if (status.get("readyReplicas") or 0) < want:
            return False, f"{status.get('readyReplicas') or 0} of {want} replicas ready"
        if status.get("updateRevision") and status.get("currentRevision") != \
                status.get("updateRevision"):
            return False, "waiting for the update revision to become current"
        return True, ""
    if (status.get("replicas") or 0) > updated:
        return False, f"{(status.get('replicas') or 0) - updated} old replicas are pending " \
                      "termination"
    if (status.get("availableReplicas") or 0) < updated:
        return False, f"{status.get('availableReplicas') or 0} of {updated} updated replicas " \
                      "available"
    return True, ""


def pod_ready(pod: Pod) -> bool:
    return pod.status.phase == "Running" and bool(pod.status.container_statuses) and all(
        c.ready for c in pod.status.container_statuses)


@dataclass(frozen=True)
class RoleBindingRef:
    """A RoleBinding or ClusterRoleBinding, with the subjects it grants its role to."""

    kind: str
    namespace: str  # "" for a ClusterRoleBinding
    name: str
    role: str  # "ClusterRole view", "Role reader"
    subjects: tuple[tuple[str, str, str], ...] = ()  # (kind, namespace, name)

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.role})"

    def grants(self, namespace: str, name: str) -> bool:
        return any(kind == "ServiceAccount" and n == name and (ns or self.namespace) == namespace
                   for kind, ns, n in self.subjects)


def role_binding(kind: str, doc: dict[str, Any]) -> RoleBindingRef:
    meta, ref = _meta(doc), doc.get("roleRef") or {}
    subjects = tuple((str(s.get("kind") or ""), str(s.get("namespace") or ""),
                      str(s.get("name") or "")) for s in doc.get("subjects") or [])
    return RoleBindingRef(kind, meta.get("namespace") or "", meta.get("name") or "",
                          f"{ref.get('kind', '')} {ref.get('name', '')}".strip(), subjects)
