"""`wi migrate`, step 1: what aad-pod-identity is doing in this cluster, read once.

The CRDs (``aadpodidentity.k8s.io/v1`` served or not), every AzureIdentity, AzureIdentityBinding
and AzurePodIdentityException, the workloads (every namespace, to know who else uses a binding's
selector), the NMI DaemonSet and MIC Deployment (and whether they run ``--forceNamespaced``),
the AKS cluster's ``podIdentityProfile``, and wi's own backups of pre-migration templates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from .errors import KubernetesError, WiError
from .models import (
    NAMESPACED_ANNOTATION,
    POD_IDENTITY_GROUP,
    POD_IDENTITY_LABEL,
    POD_IDENTITY_VERSION,
    AzureIdentity,
    AzureIdentityBinding,
    Cluster,
    PodIdentityException,
    Workload,
    azure_identity,
    identity_binding,
    pod_identity_exception,
)
from .ports import PodIdentityCluster
from .trust import Ports, Target

T = TypeVar("T")
BACKUP_CONFIGMAP = "wi-migrate-backup"
IDENTITIES, BINDINGS, EXCEPTIONS = ("azureidentities", "azureidentitybindings",
                                    "azurepodidentityexceptions")
COMPONENT_IMAGES = {"nmi": "aad-pod-identity/nmi", "mic": "aad-pod-identity/mic"}


@dataclass
class Inventory:
    installed: bool
    namespace: str | None  # the scope (None: every namespace)
    identities: list[AzureIdentity] = field(default_factory=list)
    bindings: list[AzureIdentityBinding] = field(default_factory=list)
    exceptions: list[PodIdentityException] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    whole_cluster: bool = True  # the lists above cover every namespace
    components: list[str] = field(default_factory=list)  # "DaemonSet kube-system/nmi (image)"
    force_namespaced: bool = False
    aks: Cluster | None = None
    aks_how: str = ""
    backups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # ns -> key ->
    notes: list[str] = field(default_factory=list)

    def in_scope(self, namespace: str) -> bool:
        return self.namespace is None or namespace == self.namespace

    def identity(self, namespace: str, name: str) -> AzureIdentity | None:
        return next((i for i in self.identities if (i.namespace, i.name) == (namespace, name)),
                    None)

    def to_json(self) -> dict[str, Any]:
        return {
            "installed": self.installed,
            "components": list(self.components),
            "force_namespaced": self.force_namespaced,
            "aks": None if self.aks is None else {
                "cluster": self.aks.name, "resource_group": self.aks.resource_group,
                "found": self.aks_how, "pod_identity_addon": self.aks.pod_identity_enabled,
                "pod_identities": [{"name": p.name, "namespace": p.namespace,
                                    "binding_selector": p.binding_selector,
                                    "resource_id": p.resource_id}
                                   for p in self.aks.pod_identities]},
            "identities": [{"namespace": i.namespace, "name": i.name, "type": i.type,
                            "kind": i.kind_text, "resource_id": i.resource_id or None,
                            "client_id": i.client_id or None} for i in self.identities],
            "bindings": [{"namespace": b.namespace, "name": b.name,
                          "azure_identity": b.azure_identity, "selector": b.selector}
                         for b in self.bindings],
            "exceptions": [{"namespace": e.namespace, "name": e.name,
                            "pod_labels": dict(e.pod_labels)} for e in self.exceptions],
        }


def _everywhere(read: Callable[[str | None], T], namespace: str | None, what: str,
                notes: list[str]) -> tuple[T, bool]:
    """Read in every namespace; when that is forbidden and a namespace was named, read there
    only (and say so). Returns (what was read, whether it covers every namespace)."""
    try:
        return read(None), True
    except KubernetesError as exc:
        if exc.status != 403 or namespace is None:
            raise
    notes.append(f"The kubeconfig's user may not list {what} in every namespace: only namespace "
                 f"{namespace} was read, so bindings other namespaces may still use are kept.")
    return read(namespace), False


def detect(ports: Ports, kube: PodIdentityCluster, namespace: str | None,
           target: Target) -> Inventory:
    served = kube.serves(POD_IDENTITY_GROUP, POD_IDENTITY_VERSION)
    inv = Inventory(installed=served is not None and IDENTITIES in served, namespace=namespace)
    if not inv.installed:
        return inv
    notes = inv.notes

    def custom(plural: str) -> Callable[[str | None], list[dict[str, Any]]]:
        return lambda ns: kube.custom_objects(POD_IDENTITY_GROUP, POD_IDENTITY_VERSION, plural, ns)

    raw, all_ids = _everywhere(custom(IDENTITIES), namespace, "AzureIdentities", notes)
    inv.identities = [azure_identity(o) for o in raw]
    raw, all_bindings = _everywhere(custom(BINDINGS), namespace, "AzureIdentityBindings", notes)
    inv.bindings = [identity_binding(o) for o in raw]
    if EXCEPTIONS in (served or []):
        raw, _ = _everywhere(custom(EXCEPTIONS), namespace, "AzurePodIdentityExceptions", notes)
        inv.exceptions = [pod_identity_exception(o) for o in raw]
    inv.workloads, all_workloads = _everywhere(kube.workloads, namespace, "workloads", notes)
    inv.whole_cluster = all_ids and all_bindings and all_workloads
    _components(inv)
    inv.aks, inv.aks_how = _aks(ports, kube, target, notes)
    for ns in sorted({w.namespace for w in inv.workloads if inv.in_scope(w.namespace)}
                     | ({namespace} if namespace else set())):
        inv.backups[ns] = read_backups(kube, ns)
    return inv


def read_backups(kube: PodIdentityCluster, namespace: str) -> dict[str, dict[str, Any]]:
    cm = kube.config_map(namespace, BACKUP_CONFIGMAP)
    out: dict[str, dict[str, Any]] = {}
    for key, text in (cm.data if cm else {}).items():
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            out[key] = value
    return out


def _components(inv: Inventory) -> None:
    """NMI (a DaemonSet) and MIC (a Deployment), the chart's or the AKS add-on's, by image."""
    for w in inv.workloads:
        if w.kind not in ("DaemonSet", "Deployment"):
            continue
        for c in w.template.spec.containers:
            for role, image in COMPONENT_IMAGES.items():
                if image in c.image:
                    inv.components.append(f"{w.label} ({role.upper()}, {c.image})")
                    flags = [a.lower() for a in (*c.command, *c.args)]
                    env = c.env_var("FORCENAMESPACED")
                    if any(f in ("--forcenamespaced", "--forcenamespaced=true") for f in flags) \
                            or (env is not None and (env.value or "").lower() == "true"):
                        inv.force_namespaced = True


def _aks(ports: Ports, kube: PodIdentityCluster, target: Target,
         notes: list[str]) -> tuple[Cluster | None, str]:
    """The AKS record of this cluster, for its podIdentityProfile (the add-on's identities)."""
    if not ports.subscription and not target.cluster and not target.state_cluster:
        return None, "no Azure subscription configured"
    try:
        named = (target.cluster, target.resource_group) if target.cluster and target.resource_group else \
            target.state_cluster
        if named:
            found = ports.clusters.get(named[1], named[0])
            return found, "named" if found else f"AKS cluster {named[0]} not found"
        issuer = ports.workloads.issuer()
        server = urlsplit(kube.server).netloc.lower()
        for mc in ports.clusters.list():
            if (issuer and mc.issuer_url == issuer) or (mc.fqdn and mc.fqdn.lower() in server):
                return mc, "its OIDC issuer or FQDN matches this cluster"
    except WiError as exc:
        notes.append(f"Could not read the AKS cluster's pod identity profile: {exc.message}")
        return None, "unreadable"
    return None, "no AKS cluster matches this API server"


# -- which workloads pod identity serves -------------------------------------------------------

def is_candidate(w: Workload, inv: Inventory) -> bool:
    """A workload of its own (not a ReplicaSet's, Job's or CronJob's pod, not a CronJob's
    Job), in scope, that pod identity serves or wi migrated."""
    if not inv.in_scope(w.namespace):
        return False
    if w.kind == "Pod" and w.controller is not None:
        return False
    if w.kind == "Job" and w.controller == "CronJob":
        return False
    return bool(w.template.metadata.labels.get(POD_IDENTITY_LABEL)) or \
        w.key in inv.backups.get(w.namespace, {})


def visible(b: AzureIdentityBinding, ident: AzureIdentity | None, namespace: str,
            inv: Inventory) -> bool:
    """Does this binding serve pods of ``namespace``? Across namespaces by default; only its
    own in namespaced mode (the identity's annotation, or MIC/NMI --forceNamespaced). See
    aad-pod-identity docs/readmes/README.namespaced.md."""
    namespaced = inv.force_namespaced or (
        ident is not None and (ident.annotations.get(NAMESPACED_ANNOTATION) or "").lower()
        == "namespaced")
    return not namespaced or b.namespace == namespace


HANDLED = ("ReplicaSet", "StatefulSet", "DaemonSet", "Job")  # owners of pods wi migrates


def foreign_pod(w: Workload, workloads: list[Workload]) -> bool:
    """A pod owned by something wi does not migrate (a ReplicaSet no Deployment owns, another
    controller's kind)."""
    owner = w.metadata.controller
    if w.kind != "Pod" or owner is None:
        return False
    if owner.kind == "ReplicaSet":
        return not any(d.kind == "Deployment" and d.namespace == w.namespace
                       and d.name == owner.name.rsplit("-", 1)[0] for d in workloads)
    return owner.kind not in HANDLED
