"""Facts about the Kubernetes objects in scope: service accounts, pods, Deployments, and which
of them use workload identity. Each list is one API call per scope (a namespace, or all), and the
indexes keep lookups O(1) at thousands of objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core.errors import WiError
from ...core.models import (
    WI_USE_LABEL,
    Deployment,
    Namespace,
    Pod,
    PodSpec,
    Service,
    ServiceAccount,
)
from . import Context, Scope, fact

Key = tuple[str, str]  # (namespace, name)


def _where(scope: Scope) -> str | None:
    return None if scope.all_namespaces else scope.namespace


@fact
def namespaces(ctx: Context) -> list[Namespace]:
    return ctx.kube.namespaces()


@fact
def service_accounts(ctx: Context, scope: Scope) -> list[ServiceAccount]:
    return ctx.kube.service_accounts(_where(scope))


@fact
def pods(ctx: Context, scope: Scope) -> list[Pod]:
    return ctx.kube.pods(_where(scope))


@fact
def deployments(ctx: Context, scope: Scope) -> list[Deployment]:
    return ctx.kube.deployments(_where(scope))


@fact
def services(ctx: Context, scope: Scope) -> list[Service]:
    return ctx.kube.services(_where(scope))


@fact
def subjects(scope: Scope, service_accounts: list[ServiceAccount], pods: list[Pod]) -> list[Key]:
    """(namespace, service account) pairs doctor examines: the one asked for; else every SA that
    carries a workload-identity annotation or is used by a pod labelled for workload identity."""
    if scope.service_account:
        return [(scope.namespace, scope.service_account)]
    found: dict[Key, None] = {}
    for sa in service_accounts:
        if any(k.startswith("azure.workload.identity/") for k in sa.metadata.annotations):
            found[(sa.metadata.namespace or "", sa.metadata.name)] = None
    for pod in pods:
        if pod.metadata.labels.get(WI_USE_LABEL) == "true":
            found[(pod.metadata.namespace or "", pod.spec.service_account)] = None
    return sorted(found)


@fact
def elsewhere(ctx: Context, scope: Scope, subjects: list[Key]) -> dict[str, int]:
    """When one namespace was asked for and nothing there uses workload identity: the
    namespaces whose service accounts do, with how many (one more list, only then)."""
    if scope.all_namespaces or subjects:
        return {}
    found: dict[str, int] = {}
    for sa in ctx.kube.service_accounts(None):
        if any(k.startswith("azure.workload.identity/") for k in sa.metadata.annotations):
            ns = sa.metadata.namespace or ""
            found[ns] = found.get(ns, 0) + 1
    return dict(sorted(found.items()))


@fact
def service_accounts_by_key(service_accounts: list[ServiceAccount]) -> dict[Key, ServiceAccount]:
    return {(sa.metadata.namespace or "", sa.metadata.name): sa for sa in service_accounts}


@fact
def pods_by_service_account(pods: list[Pod]) -> dict[Key, list[Pod]]:
    index: dict[Key, list[Pod]] = {}
    for pod in pods:
        index.setdefault((pod.metadata.namespace or "", pod.spec.service_account), []).append(pod)
    return index


# -- workloads: Deployments and the bare pods no Deployment owns ------------------------------------

@dataclass
class WorkloadIndex:
    """Deployments by (namespace, template service account), and each owned pod's Deployment."""

    deployments: dict[Key, list[Deployment]]
    owners: dict[Key, str]  # (namespace, pod) -> Deployment name


def _owner(pod: Pod, candidates: list[Deployment]) -> str | None:
    """The Deployment that owns the pod (by its ReplicaSet owner, else by selector)."""
    for ref in pod.metadata.owner_references:
        if ref.kind == "ReplicaSet":
            for d in candidates:
                if ref.name.rsplit("-", 1)[0] == d.metadata.name:
                    return d.metadata.name
    for d in candidates:
        wanted = d.spec.selector.match_labels if d.spec.selector else {}
        if wanted and all(pod.metadata.labels.get(k) == v for k, v in wanted.items()):
            return d.metadata.name
    return None


@fact
def workload_index(deployments: list[Deployment], pods: list[Pod]) -> WorkloadIndex:
    index = WorkloadIndex({}, {})
    for d in deployments:
        key = (d.metadata.namespace or "", d.spec.template.spec.service_account)
        index.deployments.setdefault(key, []).append(d)
    for pod in pods:
        key = (pod.metadata.namespace or "", pod.spec.service_account)
        owner = _owner(pod, index.deployments.get(key, []))
        if owner:
            index.owners[(pod.metadata.namespace or "", pod.metadata.name)] = owner
    return index


def _wants_identity(labels: dict[str, str], annotations: dict[str, str]) -> bool:
    return WI_USE_LABEL in labels or any(k.startswith("azure.workload.identity/")
                                         for k in annotations)


@fact
def workload_subjects(scope: Scope, subjects: list[Key],
                      deployments: list[Deployment]) -> list[Key]:
    """The shared subjects, plus service accounts of Deployments meant for workload identity
    (their pods may have been refused, so no pod shows them)."""
    found = dict.fromkeys(subjects)
    if not scope.service_account:
        for d in deployments:
            template = d.spec.template
            if (_wants_identity(template.metadata.labels, template.metadata.annotations)
                    or WI_USE_LABEL in d.metadata.labels):
                found[(d.metadata.namespace or "", template.spec.service_account)] = None
    return sorted(found)


@dataclass
class Workload:
    """A Deployment's pod template, or a pod that no Deployment in scope owns."""

    kind: str  # "Deployment" | "Pod"
    namespace: str
    name: str
    labels: dict[str, str]  # the pod's labels (the template's, for a Deployment)
    annotations: dict[str, str]
    spec: PodSpec
    own_labels: dict[str, str] = field(default_factory=dict)  # a Deployment's metadata labels

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()} {self.namespace}/{self.name}"

    @property
    def is_deployment(self) -> bool:
        return self.kind == "Deployment"


@fact
def workloads(workload_subjects: list[Key], workload_index: WorkloadIndex,
              pods_by_service_account: dict[Key, list[Pod]]) -> dict[Key, list[Workload]]:
    """The workloads of each subject: its Deployments, then its pods no Deployment owns."""
    out: dict[Key, list[Workload]] = {}
    for ns, sa in workload_subjects:
        found = [Workload("Deployment", ns, d.metadata.name, d.spec.template.metadata.labels,
                          d.spec.template.metadata.annotations, d.spec.template.spec,
                          d.metadata.labels)
                 for d in workload_index.deployments.get((ns, sa), [])]
        found += [Workload("Pod", ns, p.metadata.name, p.metadata.labels, p.metadata.annotations,
                           p.spec) for p in pods_by_service_account.get((ns, sa), [])
                  if (ns, p.metadata.name) not in workload_index.owners]
        out[(ns, sa)] = found
    return out


@dataclass(frozen=True)
class EnvSources:
    """Keys (never values) of the ConfigMaps and Secrets workloads load with envFrom:
    (namespace, kind, name) -> [keys] | None (missing) | "unreadable: why"."""

    keys: dict[tuple[str, str, str], list[str] | str | None]


@fact
def env_source_keys(ctx: Context, workloads: dict[Key, list[Workload]]) -> EnvSources:
    refs = sorted({(w.namespace, kind, ref.name or "")
                   for ws in workloads.values() for w in ws
                   for c in (*w.spec.init_containers, *w.spec.containers) for src in c.env_from
                   for kind, ref in (("ConfigMap", src.config_map_ref), ("Secret", src.secret_ref))
                   if ref is not None})

    def read(key: tuple[str, str, str]) -> tuple[tuple[str, str, str], list[str] | str | None]:
        ns, kind, name = key
        try:
            if kind == "Secret":
                secret = ctx.kube.secret(ns, name)
                return key, None if secret is None else sorted(secret.keys)
            cm = ctx.kube.config_map(ns, name)
            return key, None if cm is None else sorted({*cm.data, *cm.binary_data})
        except WiError as exc:
            return key, f"unreadable: {exc.message}"

    return EnvSources(dict(ctx.map(read, refs)))
