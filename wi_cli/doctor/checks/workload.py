"""Doctor checks of the workload layer: service accounts, their annotations, the pods and
Deployments that use them (label, injected env and token, credential variables that shadow
workload identity, proxy sidecar, Windows, skipped containers)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from ...adapters.kube.client import kube_errors
from ...core.errors import KubernetesNotFound, WiError
from ...core.names import WI_CLIENT_ID, WI_TENANT_ID, WI_USE_LABEL, is_guid
from ..facts import Facts, fact
from ..registry import Report, check
from ..sources import identity_by_client_id, pods_of, service_account

DOCS = ("https://azure.github.io/azure-workload-identity/docs/topics/"
        "service-account-labels-and-annotations.html")
TOKEN_EXPIRATION = "azure.workload.identity/service-account-token-expiration"
SKIP_CONTAINERS = "azure.workload.identity/skip-containers"
INJECT_PROXY = "azure.workload.identity/inject-proxy-sidecar"
PROXY_CONTAINERS = ("azwi-proxy", "azwi-proxy-init")
AUDIENCE = "api://AzureADTokenExchange"
MIN_EXPIRATION, MAX_EXPIRATION = 3600, 86400
TOKEN_FILES = {  # the webhook's token file, by layout (≤ v1.5 / v1.6)
    "/var/run/secrets/azure/tokens": "/var/run/secrets/azure/tokens/azure-identity-token",
    "/var/run/secrets/azure/wi": "/var/run/secrets/azure/wi/token/azure-identity-token",
}
# variables that make DefaultAzureCredential's EnvironmentCredential win over workload identity
SHADOWING = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_PASSWORD")
INJECTED = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_AUTHORITY_HOST")
OS_LABEL = "kubernetes.io/os"
NEEDS = ("subjects", "service_accounts", "pods", "deployments", "workload_index",
         "workload_subjects")
_GO_INT = re.compile(r"[+-]?[0-9]+")
_IDENTITY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")


# -- what doctor examines --------------------------------------------------------------------------

@dataclass
class Workload:
    """A Deployment's pod template, or a pod that no Deployment in scope owns."""

    kind: str  # "Deployment" | "Pod"
    namespace: str
    name: str
    labels: dict[str, str]  # the pod's labels (the template's, for a Deployment)
    annotations: dict[str, str]
    spec: Any  # V1PodSpec
    own_labels: dict[str, str] = field(default_factory=dict)  # a Deployment's metadata labels

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()} {self.namespace}/{self.name}"

    @property
    def is_deployment(self) -> bool:
        return self.kind == "Deployment"


def _sa_of(spec: Any) -> str:
    return (spec.service_account_name if spec else None) or "default"


def _annotations(obj: Any) -> dict[str, str]:
    return dict((obj.metadata.annotations if obj.metadata else None) or {})


def _labels(obj: Any) -> dict[str, str]:
    return dict((obj.metadata.labels if obj.metadata else None) or {})


def _template_labels(deployment: Any) -> dict[str, str]:
    return _labels(deployment.spec.template)


def _wants_identity(labels: dict[str, str], annotations: dict[str, str]) -> bool:
    return WI_USE_LABEL in labels or any(k.startswith("azure.workload.identity/")
                                         for k in annotations)


@dataclass
class Index:
    """Deployments keyed for lookups (doctor -A looks at thousands of objects); service
    accounts and pods are indexed by the shared facts in ``sources``."""

    deployments: dict[tuple[str, str], list[Any]]  # by (namespace, template service account)
    owners: dict[tuple[str, str], str]  # (namespace, pod) -> Deployment name


def _owner(pod: Any, candidates: list[Any]) -> str | None:
    """The Deployment that owns the pod (by its ReplicaSet owner, else by selector)."""
    for ref in pod.metadata.owner_references or []:
        if ref.kind == "ReplicaSet":
            for d in candidates:
                if ref.name.rsplit("-", 1)[0] == d.metadata.name:
                    return d.metadata.name
    labels = _labels(pod)
    for d in candidates:
        wanted = (d.spec.selector.match_labels if d.spec.selector else None) or {}
        if wanted and all(labels.get(k) == v for k, v in wanted.items()):
            return d.metadata.name
    return None


@fact("workload_index")
def workload_index(facts: Facts) -> Index:
    index = Index({}, {})
    for d in facts["deployments"]:
        key = (d.metadata.namespace, _sa_of(d.spec.template.spec))
        index.deployments.setdefault(key, []).append(d)
    for pod in facts["pods"]:
        key = (pod.metadata.namespace, _sa_of(pod.spec))
        owner = _owner(pod, index.deployments.get(key, []))
        if owner:
            index.owners[(pod.metadata.namespace, pod.metadata.name)] = owner
    return index


@fact("workload_subjects")
def workload_subjects(facts: Facts) -> list[tuple[str, str]]:
    """The shared subjects, plus service accounts of Deployments meant for workload identity
    (their pods may have been refused, so no pod shows them)."""
    found = dict.fromkeys(facts["subjects"])
    if not facts.scope.service_account:
        for d in facts["deployments"]:
            template = d.spec.template
            if (_wants_identity(_template_labels(d), _annotations(template))
                    or WI_USE_LABEL in _labels(d)):
                found[(d.metadata.namespace, _sa_of(template.spec))] = None
    return sorted(found)


def deployments_of(facts: Facts, namespace: str, sa: str) -> list[Any]:
    return facts["workload_index"].deployments.get((namespace, sa), [])


def owner_of(facts: Facts, pod: Any) -> str | None:
    return facts["workload_index"].owners.get((pod.metadata.namespace, pod.metadata.name))


def workloads_of(facts: Facts, namespace: str, sa: str) -> list[Workload]:
    out = [Workload("Deployment", namespace, d.metadata.name, _template_labels(d),
                    _annotations(d.spec.template), d.spec.template.spec, _labels(d))
           for d in deployments_of(facts, namespace, sa)]
    out += [Workload("Pod", namespace, p.metadata.name, _labels(p), _annotations(p), p.spec)
            for p in pods_of(facts, namespace, sa) if owner_of(facts, p) is None]
    return out


def all_workloads(facts: Facts) -> list[Workload]:
    return [w for ns, sa in facts["workload_subjects"] for w in workloads_of(facts, ns, sa)]


def labelled_pods(facts: Facts) -> list[Any]:
    return [p for ns, sa in facts["workload_subjects"] for p in pods_of(facts, ns, sa)
            if _labels(p).get(WI_USE_LABEL) == "true"]


def _finished(pod: Any) -> str | None:
    """'Succeeded'/'Failed' for a pod that has run to completion (a Job's), else None."""
    phase = pod.status.phase if pod.status else None
    return phase if phase in ("Succeeded", "Failed") else None


def version_below(version: str, floor: tuple[int, int]) -> bool:
    """Is a git version like 'v1.18.3' (or 'v1.30.1-aks') older than ``floor``? Unknown: no."""
    m = re.match(r"v?(\d+)\.(\d+)", version)
    return bool(m) and (int(m.group(1)), int(m.group(2))) < floor


def containers(spec: Any) -> list[Any]:
    return list(spec.init_containers or []) + list(spec.containers or [])


def skipped_containers(annotations: dict[str, str]) -> set[str]:
    raw = annotations.get(SKIP_CONTAINERS, "")
    return {n.strip() for n in raw.split(";") if n.strip()} if raw else set()


def _env(container: Any) -> list[Any]:
    return list(container.env or [])


def _env_value(container: Any, name: str) -> Any | None:
    for e in _env(container):
        if e.name == name:
            return e
    return None


def _normalised(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def near_misses(annotations: dict[str, str], exact: str, suffix: str) -> dict[str, str]:
    """Keys that look like ``exact`` (client_id, clientId, ...) but are not it."""
    return {k: v for k, v in annotations.items() if k != exact
            and "workloadidentity" in _normalised(k) and _normalised(k).endswith(suffix)}


# -- fix commands ----------------------------------------------------------------------------------

def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def patch_template(w: Workload, body: dict[str, Any]) -> str:
    patch = json.dumps({"spec": {"template": body}}, separators=(",", ":"))
    return f"kubectl patch deployment {w.name} -n {w.namespace} --type=merge -p '{patch}'"


def remove_template_annotation(w: Workload, key: str) -> str:
    patch = json.dumps([{"op": "remove",
                         "path": f"/spec/template/metadata/annotations/{_pointer(key)}"}])
    return f"kubectl patch deployment {w.name} -n {w.namespace} --type=json -p '{patch}'"


def recreate_pod(namespace: str, name: str) -> str:
    return f"kubectl get pod {name} -n {namespace} -o yaml | kubectl replace --force -f -"


def edit_pod(namespace: str, name: str, jq_filter: str) -> str:
    """Re-create a bare pod with a change to its spec (pod specs are mostly immutable)."""
    return (f"kubectl get pod {name} -n {namespace} -o json | jq '{jq_filter}' | "
            "kubectl replace --force -f -")


def restart(facts: Facts, pods: Iterable[Any]) -> list[str]:
    """Commands that re-create the pods so the webhook mutates them again."""
    commands: dict[str, None] = {}
    for pod in pods:
        ns, owner = pod.metadata.namespace, owner_of(facts, pod)
        commands[f"kubectl rollout restart deployment/{owner} -n {ns}" if owner
                 else recreate_pod(ns, pod.metadata.name)] = None
    return list(commands)


def annotate_sa(ns: str, sa: str, key: str, value: str | None) -> str:
    change = f"{key}-" if value is None else f"{key}={value} --overwrite"
    return f"kubectl annotate sa {sa} -n {ns} {change}"


# -- the service account ---------------------------------------------------------------------------

@check("workload.service-account", "Service account exists", layer="workload", needs=NEEDS,
       failure_modes=(8,), docs=DOCS)
def service_account_exists(facts: Facts, report: Report) -> None:
    for ns, sa in facts["workload_subjects"]:
        if service_account(facts, ns, sa) is not None:
            report.ok(f"ServiceAccount {ns}/{sa} exists.")
            continue
        users = [w.ref for w in workloads_of(facts, ns, sa)]
        users += [f"pod {ns}/{p.metadata.name}" for p in pods_of(facts, ns, sa)
                  if owner_of(facts, p) is not None]
        named = ", ".join(users) if users else "--service-account"
        report.fail(f"ServiceAccount {ns}/{sa} does not exist (used by {named}): new pods are "
                    "refused and no identity can be bound to it.",
                    expected=f"ServiceAccount {ns}/{sa}", actual=None,
                    fix="Create the service account and bind it to the identity (or fix "
                        "serviceAccountName), then restart the workload.",
                    commands=[f"kubectl create serviceaccount {sa} -n {ns}",
                              f"wi bind {sa} IDENTITY -n {ns}"])


def _existing_subjects(facts: Facts) -> list[tuple[str, str, Any]]:
    """(namespace, name, ServiceAccount) of the subjects that exist (missing ones are reported
    by workload.service-account)."""
    out = []
    for ns, sa in facts["workload_subjects"]:
        obj = service_account(facts, ns, sa)
        if obj is not None:
            out.append((ns, sa, obj))
    return out


# -- client-id and tenant-id annotations -----------------------------------------------------------

def _selects(service: Any, workloads: list[Workload]) -> bool:
    selector = (service.spec.selector if service.spec else None) or {}
    return bool(selector) and any(all(w.labels.get(k) == v for k, v in selector.items())
                                  for w in workloads)


def _client_id_elsewhere(facts: Facts, ns: str, sa: str, services: list[Any]
                         ) -> dict[str, dict[str, str]]:
    """Client-id-like annotations on the SA's pods and Deployments, and on Services named like
    the SA or selecting its pods."""
    found: dict[str, dict[str, str]] = {}
    workloads = workloads_of(facts, ns, sa)
    pods = [Workload("Pod", ns, p.metadata.name, _labels(p), {}, p.spec)
            for p in pods_of(facts, ns, sa)]
    for svc in services:
        if svc.metadata.name == sa or _selects(svc, workloads + pods):
            keys = near_misses(_annotations(svc), "", "clientid")
            if keys:
                found[f"service {ns}/{svc.metadata.name}"] = keys
    for w in workloads:
        keys = near_misses(w.annotations, "", "clientid")
        if keys:
            found[w.ref] = keys
    return found


def _bind_target(value: str) -> str:
    return value if _IDENTITY_NAME.match(value) and not is_guid(value) else "IDENTITY"


@check("workload.client-id", "Client-id annotation on the service account", layer="workload",
       needs=NEEDS + ("services",), failure_modes=(7, 9), docs=DOCS)
def client_id(facts: Facts, report: Report) -> None:
    services: dict[str, list[Any]] = {}
    for svc in facts["services"]:
        services.setdefault(svc.metadata.namespace, []).append(svc)
    for ns, sa, obj in _existing_subjects(facts):
        annotations = _annotations(obj)
        value = annotations.get(WI_CLIENT_ID)
        again = restart(facts, pods_of(facts, ns, sa))
        if value is not None and is_guid(value.strip()):
            report.ok(f"{ns}/{sa}: client-id {value.strip()}.")
            continue
        typos = near_misses(annotations, WI_CLIENT_ID, "clientid")
        elsewhere = _client_id_elsewhere(facts, ns, sa, services.get(ns, []))
        actual: dict[str, Any] = {WI_CLIENT_ID: value, **({"near-miss keys": typos} if typos
                                                          else {})}
        if elsewhere:
            actual["on other objects"] = elsewhere
        expected = f"{WI_CLIENT_ID}: the identity's client id (a GUID)"
        if value is not None and value.strip():
            report.fail(f"{ns}/{sa}: client-id {value!r} is not a GUID: AZURE_CLIENT_ID is "
                        "useless and the token exchange fails (AADSTS700016).",
                        expected=expected, actual=actual,
                        fix="Bind the service account to the identity by name, which writes its "
                            "client id (not its name or principal id), then restart the pods.",
                        commands=[f"wi bind {sa} {_bind_target(value.strip())} -n {ns}", *again])
            continue
        _report_missing_client_id(report, ns, sa, value, typos, elsewhere, expected, actual, again)


def _report_missing_client_id(report: Report, ns: str, sa: str, value: str | None,
                              typos: dict[str, str], elsewhere: dict[str, dict[str, str]],
                              expected: str, actual: dict[str, Any], again: list[str]) -> None:
    guesses = [v.strip() for v in list(typos.values()) + [v for keys in elsewhere.values()
                                                           for v in keys.values()]
               if is_guid(v.strip())]
    set_it = (annotate_sa(ns, sa, WI_CLIENT_ID, guesses[0]) if guesses
              else f"wi bind {sa} IDENTITY -n {ns}")
    removals = [annotate_sa(ns, sa, k, None) for k in typos]
    removals += [f"kubectl annotate service {where.rsplit('/', 1)[1]} -n {ns} {k}-"
                 for where, keys in elsewhere.items() if where.startswith("service ")
                 for k in keys]
    if typos or elsewhere:
        places = [f"key {k!r} on the service account" for k in typos]
        places += list(elsewhere)
        summary = (f"{ns}/{sa}: no {WI_CLIENT_ID} annotation, but a near miss is there "
                   f"({'; '.join(places)}): the webhook reads only the exact key on the "
                   "service account, so AZURE_CLIENT_ID is not injected.")
    elif value is not None:
        summary = (f"{ns}/{sa}: the {WI_CLIENT_ID} annotation is empty: AZURE_CLIENT_ID is not "
                   "injected.")
    else:
        summary = (f"{ns}/{sa}: no {WI_CLIENT_ID} annotation: AZURE_CLIENT_ID is not "
                   "injected.")
    report.fail(summary, expected=expected, actual=actual,
                fix="Put the identity's client id under the exact key on the service account "
                    "(wi bind does it), remove the misplaced keys, then restart the pods.",
                commands=[set_it, *removals, *again])


@check("workload.tenant-id", "Tenant-id annotation valid", layer="workload",
       needs=NEEDS + ("identities",), failure_modes=(11, 42), docs=DOCS)
def tenant_id(facts: Facts, report: Report) -> None:
    for ns, sa, obj in _existing_subjects(facts):
        annotations = _annotations(obj)
        again = restart(facts, pods_of(facts, ns, sa))
        typos = near_misses(annotations, WI_TENANT_ID, "tenantid")
        if WI_TENANT_ID not in annotations:
            if typos:
                report.warn(f"{ns}/{sa}: tenant-id is under a wrong key ({', '.join(typos)}), "
                            "so the webhook's default tenant is used.",
                            expected=WI_TENANT_ID, actual=sorted(typos),
                            fix="Rename the key (or drop it if the identity is in the cluster's "
                                "tenant).",
                            commands=[annotate_sa(ns, sa, k, None) for k in typos])
            else:
                report.ok(f"{ns}/{sa}: no tenant-id annotation; the webhook's tenant applies.")
            continue
        value = annotations[WI_TENANT_ID].strip()
        ident = identity_by_client_id(facts, (annotations.get(WI_CLIENT_ID) or "").strip())
        own = (ident.tenant_id or "") if ident is not None else ""
        problem = tenant_problem(value, own)
        if problem is None:
            hint = ("" if is_guid(value) else " (a domain name, which Entra accepts; the tenant "
                    "GUID avoids the lookup)")
            report.ok(f"{ns}/{sa}: tenant-id {value}{hint}.")
            continue
        fix_value = own or None
        report.fail(f"{ns}/{sa}: the {WI_TENANT_ID} annotation {problem}.",
                    expected=own or "a tenant GUID or domain name (or no annotation: the "
                                    "cluster's tenant)",
                    actual={WI_TENANT_ID: annotations[WI_TENANT_ID]},
                    fix=(f"Set it to the identity's tenant ({own}), then restart the pods."
                         if own else "Set it to the identity's tenant, or remove it so the "
                         "webhook's tenant applies, then restart the pods."),
                    commands=[annotate_sa(ns, sa, WI_TENANT_ID, fix_value), *again])


_TENANT_CHARS = re.compile(r"^[A-Za-z0-9.-]+$")  # azure-identity's VALID_TENANT_ID_CHARACTERS


def tenant_problem(value: str, identity_tenant: str) -> str | None:
    """What is wrong with a tenant-id annotation, or None. A tenant is a GUID or a domain name
    (Entra docs; azure-identity accepts [A-Za-z0-9.-]); a GUID must be the identity's tenant."""
    if not value:
        return "is empty: AZURE_TENANT_ID is not injected at all"
    if not _TENANT_CHARS.match(value):
        return (f"{value!r} is not a tenant id or domain: the SDK refuses it and Entra answers "
                "AADSTS900023")
    if is_guid(value) and identity_tenant and value.lower() != identity_tenant.lower():
        return (f"names tenant {value}, but the identity lives in tenant {identity_tenant}: "
                "Entra answers AADSTS700016 (no such client in that tenant)")
    return None


# -- token expiration ------------------------------------------------------------------------------

def expiration_problem(raw: str) -> str | None:
    if not _GO_INT.fullmatch(raw):
        return f"{raw!r} is not a whole number of seconds"
    if not MIN_EXPIRATION <= int(raw) <= MAX_EXPIRATION:
        return f"{int(raw)} is outside {MIN_EXPIRATION}-{MAX_EXPIRATION}"
    return None


def _expiration_fix(w: Workload) -> list[str]:
    if w.is_deployment:
        return [patch_template(w, {"metadata": {"annotations": {TOKEN_EXPIRATION: "3600"}}})]
    return [f"kubectl annotate pod {w.name} -n {w.namespace} {TOKEN_EXPIRATION}=3600 "
            "--overwrite", recreate_pod(w.namespace, w.name)]


@check("workload.token-expiration", "Token expiration annotation in range", layer="workload",
       needs=NEEDS, failure_modes=(41,), docs=DOCS)
def token_expiration(facts: Facts, report: Report) -> None:
    for ns, sa, obj in _existing_subjects(facts):
        places: list[tuple[str, str, list[str]]] = []
        raw = _annotations(obj).get(TOKEN_EXPIRATION)
        if raw is not None:
            places.append((f"serviceaccount {ns}/{sa}", raw,
                           [annotate_sa(ns, sa, TOKEN_EXPIRATION, "3600")]))
        for w in workloads_of(facts, ns, sa):
            if TOKEN_EXPIRATION in w.annotations:
                places.append((w.ref, w.annotations[TOKEN_EXPIRATION], _expiration_fix(w)))
        if not places:
            report.ok(f"{ns}/{sa}: default token lifetime (3600 s).")
        for where, value, commands in places:
            problem = expiration_problem(value)
            if problem is None:
                report.ok(f"{where}: token lifetime {value} s.")
                continue
            report.fail(f"{where}: {TOKEN_EXPIRATION} {problem}: the webhook refuses its pods "
                        "(\"token expiration ... not valid\").",
                        expected=f"{MIN_EXPIRATION}..{MAX_EXPIRATION}", actual=value,
                        fix="Use a value between 3600 and 86400 seconds (or remove the "
                            "annotation for the default 3600).", commands=commands)


# -- the pod label ---------------------------------------------------------------------------------

def _label_fix(w: Workload) -> list[str]:
    if w.is_deployment:
        return [patch_template(w, {"metadata": {"labels": {WI_USE_LABEL: "true"}}})]
    return [f"kubectl label pod {w.name} -n {w.namespace} {WI_USE_LABEL}=true --overwrite",
            recreate_pod(w.namespace, w.name)]


def _label_problem(w: Workload, sa_labelled: bool) -> str:
    if WI_USE_LABEL in w.labels:
        return (f"its {WI_USE_LABEL} label is {w.labels[WI_USE_LABEL]!r}, not \"true\" "
                "(the webhook's objectSelector matches the exact string)")
    if w.is_deployment and WI_USE_LABEL in w.own_labels:
        return ("the label is on the Deployment's metadata, not on its pod template, and the "
                "webhook looks at the pod's labels")
    if sa_labelled:
        return ("the label is on the service account only (the pre-1.0 contract); since v1.0 "
                "the webhook looks at the pod's labels")
    return f"its pods lack the label {WI_USE_LABEL}: \"true\""


@check("workload.pod-label", "Pods labelled for workload identity", layer="workload",
       needs=NEEDS, failure_modes=(1, 2), docs=DOCS)
def pod_label(facts: Facts, report: Report) -> None:
    for ns, sa, obj in _existing_subjects(facts):
        workloads = workloads_of(facts, ns, sa)
        if not workloads:
            report.skip(f"{ns}/{sa}: no pod or Deployment uses it yet.")
            continue
        sa_labelled = WI_USE_LABEL in _labels(obj) or WI_USE_LABEL in _annotations(obj)
        for w in workloads:
            if w.labels.get(WI_USE_LABEL) == "true":
                report.ok(f"{w.ref} (service account {sa}) is labelled {WI_USE_LABEL}=true.")
                continue
            fix = ("Add the label to the pod template; the Deployment rolls out new pods."
                   if w.is_deployment else
                   "Label the pod and re-create it: the webhook only mutates pods as they are "
                   "created.")
            report.fail(f"{w.ref} uses service account {ns}/{sa} but "
                        f"{_label_problem(w, sa_labelled)}: it gets "
                        "no token file and no AZURE_* variables.",
                        expected={WI_USE_LABEL: "true"},
                        actual={"pod labels": w.labels.get(WI_USE_LABEL),
                                **({"deployment labels": w.own_labels.get(WI_USE_LABEL)}
                                   if w.is_deployment else {}),
                                "service account labels": _labels(obj).get(WI_USE_LABEL)},
                        fix=fix, commands=_label_fix(w))


# -- what the webhook injected ---------------------------------------------------------------------

def _has_token_volume(spec: Any) -> bool:
    for volume in spec.volumes or []:
        for source in (volume.projected.sources or []) if volume.projected else []:
            token = source.service_account_token
            if token is not None and token.audience == AUDIENCE:
                return True
    return False


def client_id_set_by_user(container: Any, template_container: Any | None) -> bool:
    """Whether AZURE_CLIENT_ID in the container came from the manifest rather than the webhook.
    The template says so for a Deployment's pod; for a bare pod, what the webhook adds is
    appended after the manifest's variables, so its values form the trailing run of env."""
    if template_container is not None:
        return _env_value(template_container, "AZURE_CLIENT_ID") is not None
    trailing: set[str] = set()
    for entry in reversed(_env(container)):
        if entry.name not in INJECTED or entry.value_from is not None:
            break
        trailing.add(entry.name)
    return "AZURE_CLIENT_ID" not in trailing


def _template_container(facts: Facts, pod: Any, name: str) -> Any | None:
    owner = owner_of(facts, pod)
    for d in deployments_of(facts, pod.metadata.namespace, _sa_of(pod.spec)):
        if d.metadata.name == owner:
            return next((c for c in containers(d.spec.template.spec) if c.name == name), None)
    return None


def _sa_client_id(facts: Facts, ns: str, sa: str) -> str | None:
    obj = service_account(facts, ns, sa)
    value = (_annotations(obj).get(WI_CLIENT_ID) or "").strip() if obj else ""
    return value.lower() if is_guid(value) else None


def _stale_client_ids(facts: Facts, pod: Any, targets: list[Any],
                      want: str | None) -> dict[str, str | None]:
    """Containers whose webhook-injected AZURE_CLIENT_ID differs from the SA annotation."""
    stale: dict[str, str | None] = {}
    for c in targets:
        entry = _env_value(c, "AZURE_CLIENT_ID")
        if entry is not None and client_id_set_by_user(c, _template_container(facts, pod, c.name)):
            continue  # the user's own value: workload.env-shadowing reports it
        have = (entry.value or "").lower() if entry is not None else None
        if want and have != want:
            stale[c.name] = have
    return stale


@check("workload.injection", "Pods carry the injected token and env", layer="workload",
       needs=NEEDS, failure_modes=(6, 5, 24, 34), docs=DOCS)
def injection(facts: Facts, report: Report) -> None:
    for pod in labelled_pods(facts):
        ns, name, sa = pod.metadata.namespace, pod.metadata.name, _sa_of(pod.spec)
        where = f"pod {ns}/{name}"
        skipped = skipped_containers(_annotations(pod))
        targets = [c for c in containers(pod.spec)
                   if c.name not in skipped and c.name not in PROXY_CONTAINERS]
        injected = [c for c in targets if _env_value(c, "AZURE_FEDERATED_TOKEN_FILE")]
        again = restart(facts, [pod])
        finished = _finished(pod)
        if finished and (not injected or _stale_client_ids(
                facts, pod, injected, _sa_client_id(facts, ns, sa))):
            report.ok(f"{where} finished ({finished}) before the current settings: it is "
                      "history, and the next run picks up the change.")
            continue
        if not injected and not _has_token_volume(pod.spec):
            report.fail(f"{where} is labelled but was never mutated (no token volume, no "
                        "AZURE_* variables): it was created while the webhook was missing or "
                        "down (failurePolicy Ignore), or before it was labelled.",
                        expected="AZURE_FEDERATED_TOKEN_FILE and the projected token volume",
                        actual="neither", fix="Re-create the pod now that the webhook works.",
                        commands=again)
            continue
        missing = [c.name for c in targets if c not in injected]
        if missing:
            report.fail(f"{where}: containers {', '.join(missing)} got no AZURE_* variables "
                        "while others did: they were added after the webhook ran (another "
                        "webhook's sidecar, reinvocationPolicy) or the pod was edited.",
                        expected="every container not in skip-containers", actual=missing,
                        fix="Upgrade the webhook (reinvocationPolicy IfNeeded) and re-create "
                            "the pod.", commands=again)
            continue
        want = _sa_client_id(facts, ns, sa)
        stale = _stale_client_ids(facts, pod, injected, want)
        if stale:
            report.fail(f"{where}: AZURE_CLIENT_ID does not match {ns}/{sa}'s client-id: the pod "
                        "was created before the service account was annotated or changed (the "
                        "webhook copies the value only when the pod is created).",
                        expected=want, actual=stale, fix="Restart the pod.", commands=again)
            continue
        report.ok(f"{where}: token volume and AZURE_* variables present"
                  f"{f', AZURE_CLIENT_ID {want}' if want else ''}.")


# -- credentials that win over workload identity ---------------------------------------------------

@fact("env_source_keys")
def env_source_keys(facts: Facts) -> dict[tuple[str, str, str], list[str] | str | None]:
    """Keys (never values) of the ConfigMaps and Secrets the workloads load with envFrom:
    {(namespace, kind, name): [keys] | None (missing) | "unreadable: why"}."""
    kube = facts.ctx.kube
    refs = sorted({(w.namespace, kind, ref.name) for w in all_workloads(facts)
                   for c in containers(w.spec) for src in c.env_from or []
                   for kind, ref in (("ConfigMap", src.config_map_ref),
                                     ("Secret", src.secret_ref)) if ref is not None})

    def read(key: tuple[str, str, str]) -> tuple[tuple[str, str, str], Any]:
        ns, kind, name = key
        call = (kube.core.read_namespaced_secret if kind == "Secret"
                else kube.core.read_namespaced_config_map)
        try:
            with kube_errors(f"reading {kind} {ns}/{name}", kube.server):
                obj = call(name, ns)
        except KubernetesNotFound:
            return key, None
        except WiError as exc:
            return key, f"unreadable: {exc.message}"
        keys = list(obj.data or {}) + list(getattr(obj, "binary_data", None) or {})
        return key, sorted(keys)

    return dict(facts.map(read, refs))


@dataclass
class Shadow:
    container: str
    variable: str
    source: str  # "env" | "Secret NAME (envFrom)" | "ConfigMap NAME (envFrom)"
    fix: str


def _drop_env(w: Workload, container: Any, name: str) -> str:
    if w.is_deployment:
        return (f"kubectl set env deployment/{w.name} -n {w.namespace} -c {container.name} "
                f"{name}-")
    field = "initContainers" if container in (w.spec.init_containers or []) else "containers"
    return edit_pod(w.namespace, w.name, f'(.spec.{field}[] | select(.name=="{container.name}")'
                                         f' | .env) |= map(select(.name != "{name}"))')


def _shadows(facts: Facts, w: Workload, want: str | None) -> list[Shadow]:
    sources = facts["env_source_keys"]
    found: list[Shadow] = []
    for c in containers(w.spec):
        for name in SHADOWING:
            if _env_value(c, name) is not None:
                found.append(Shadow(c.name, name, "env", _drop_env(w, c, name)))
        for src in c.env_from or []:
            for kind, ref in (("ConfigMap", src.config_map_ref), ("Secret", src.secret_ref)):
                keys = sources.get((w.namespace, kind, ref.name)) if ref is not None else None
                for key in keys if isinstance(keys, list) else []:
                    if f"{src.prefix or ''}{key}" in SHADOWING:
                        patch = json.dumps([{"op": "remove", "path": f"/data/{_pointer(key)}"}])
                        found.append(Shadow(c.name, f"{src.prefix or ''}{key}",
                                            f"{kind} {ref.name} (envFrom)",
                                            f"kubectl patch {kind.lower()} {ref.name} -n "
                                            f"{w.namespace} --type=json -p '{patch}'"))
        entry = _env_value(c, "AZURE_CLIENT_ID")
        if (entry is not None and want and (entry.value or "").lower() != want
                and (w.is_deployment or client_id_set_by_user(c, None))):
            found.append(Shadow(c.name, "AZURE_CLIENT_ID", "env",
                                _drop_env(w, c, "AZURE_CLIENT_ID")))
    return found


@check("workload.env-shadowing", "No credential variables shadow workload identity",
       layer="workload", needs=NEEDS + ("env_source_keys",), failure_modes=(23,),
       docs="https://learn.microsoft.com/azure/developer/python/sdk/authentication/"
            "credential-chains")
def env_shadowing(facts: Facts, report: Report) -> None:
    for w in all_workloads(facts):
        want = _sa_client_id(facts, w.namespace, _sa_of(w.spec))
        shadows = _shadows(facts, w, want)
        if not shadows:
            report.ok(f"{w.ref}: no AZURE_CLIENT_SECRET/CERTIFICATE_PATH or own AZURE_CLIENT_ID.")
            continue
        commands = list(dict.fromkeys(s.fix for s in shadows))
        if any(s.source != "env" for s in shadows):
            commands.append(f"kubectl rollout restart deployment/{w.name} -n {w.namespace}"
                            if w.is_deployment else recreate_pod(w.namespace, w.name))
        listed = "; ".join(f"{s.variable} in container {s.container} ({s.source})"
                           for s in shadows)
        report.fail(f"{w.ref}: {listed}: DefaultAzureCredential signs in with these instead of "
                    "the workload identity (the webhook never overwrites a variable the "
                    "container sets itself).",
                    expected={"AZURE_CLIENT_ID": want, "credential variables": []},
                    actual=[{"container": s.container, "variable": s.variable,
                             "from": s.source} for s in shadows],
                    fix="Remove these variables from the manifest (or from the Secret/ConfigMap "
                        "it loads) and re-create the pods, or build WorkloadIdentityCredential "
                        "explicitly in the app.",
                    commands=commands)


# -- skip-containers and hard-coded token paths ----------------------------------------------------

@check("workload.skip-containers", "No container skipped by the webhook", layer="workload",
       needs=NEEDS, failure_modes=(43,), docs=DOCS)
def skip_containers(facts: Facts, report: Report) -> None:
    for w in all_workloads(facts):
        skipped = skipped_containers(w.annotations)
        if not skipped:
            continue
        names = [c.name for c in w.spec.containers or [] if c.name not in PROXY_CONTAINERS]
        hit = [n for n in names if n in skipped]
        fix_cmds = ([remove_template_annotation(w, SKIP_CONTAINERS)] if w.is_deployment else
                    [f"kubectl annotate pod {w.name} -n {w.namespace} {SKIP_CONTAINERS}-",
                     recreate_pod(w.namespace, w.name)])
        evidence = {"expected": f"the containers that call Azure are not in {SKIP_CONTAINERS}",
                    "actual": {"skipped": sorted(skipped), "containers": names}}
        if hit and len(hit) == len(names):
            report.fail(f"{w.ref}: every container is listed in {SKIP_CONTAINERS} "
                        f"({', '.join(hit)}): none gets the token file or AZURE_* variables.",
                        fix="Remove the annotation (or the containers that call Azure from it).",
                        commands=fix_cmds, **evidence)
        elif hit:
            report.warn(f"{w.ref}: containers {', '.join(hit)} are in {SKIP_CONTAINERS}: they "
                        "get no token file or AZURE_* variables.",
                        fix="Fine if they never call Azure; otherwise take them off the list.",
                        commands=fix_cmds, **evidence)
        else:
            report.ok(f"{w.ref}: {SKIP_CONTAINERS} names no container of the pod.")
    if not report.made:
        report.skip("No workload in scope uses skip-containers.")


def _hard_coded_paths(container: Any, token_file: str) -> list[str]:
    texts = [e.value or "" for e in _env(container) if e.name != "AZURE_FEDERATED_TOKEN_FILE"]
    texts += list(container.command or []) + list(container.args or [])
    actual_dir = next((d for d, f in TOKEN_FILES.items() if f == token_file), None)
    return sorted({d for d in TOKEN_FILES if d != actual_dir and any(d in t for t in texts)})


@check("workload.token-path", "Apps read the token file the webhook mounts", layer="workload",
       needs=NEEDS, failure_modes=(43,), docs=DOCS)
def token_path(facts: Facts, report: Report) -> None:
    for pod in labelled_pods(facts):
        where = f"pod {pod.metadata.namespace}/{pod.metadata.name}"
        for c in containers(pod.spec):
            entry = _env_value(c, "AZURE_FEDERATED_TOKEN_FILE")
            if entry is None or c.name in PROXY_CONTAINERS:
                continue
            wrong = _hard_coded_paths(c, entry.value or "")
            if not wrong:
                report.ok(f"{where} container {c.name}: no stale token path hard-coded.")
                continue
            report.fail(f"{where} container {c.name} hard-codes {', '.join(wrong)}, but this "
                        f"webhook mounts the token at {entry.value}.",
                        expected=entry.value, actual=wrong,
                        fix="Read the path from $AZURE_FEDERATED_TOKEN_FILE instead of "
                            "hard-coding it (it moved in webhook v1.6).",
                        commands=[f"kubectl get pod {pod.metadata.name} -n "
                                  f"{pod.metadata.namespace} -o yaml | grep -n "
                                  f"'{wrong[0]}'"])


# -- proxy sidecar, hostNetwork, Windows -----------------------------------------------------------

def _is_windows(w: Workload) -> bool:
    return (w.spec.node_selector or {}).get(OS_LABEL) == "windows" or (
        w.spec.os is not None and w.spec.os.name == "windows")


def _proxy_problems(w: Workload) -> list[tuple[str, str]]:
    """(problem, fix) pairs of a workload that asks for the proxy sidecar."""
    value = w.annotations[INJECT_PROXY]
    problems = []
    if value.strip().lower() == "false":
        problems.append((f"{INJECT_PROXY} is {value!r}, yet the webhook injects the proxy "
                         "whenever the key is present", "remove the annotation"))
    if w.spec.host_network:
        problems.append(("hostNetwork is true, so the webhook refuses the pod (\"hostNetwork is "
                         "set to true, cannot inject proxy sidecar\")",
                         "drop hostNetwork or the proxy annotation"))
    if _is_windows(w):
        problems.append(("it runs on Windows, and the proxy images are Linux-only",
                         "do not use the proxy on Windows"))
    return problems


@check("workload.proxy", "Proxy sidecar annotation usable", layer="workload", needs=NEEDS,
       failure_modes=(31, 33, 30), docs="https://azure.github.io/azure-workload-identity/docs/"
                                         "topics/language-specific-examples/migration.html")
def proxy(facts: Facts, report: Report) -> None:
    for w in all_workloads(facts):
        if INJECT_PROXY not in w.annotations:
            continue
        problems = _proxy_problems(w)
        if not problems:
            report.ok(f"{w.ref}: proxy sidecar requested on a Linux pod network.")
            continue
        commands = ([remove_template_annotation(w, INJECT_PROXY)] if w.is_deployment else
                    [f"kubectl annotate pod {w.name} -n {w.namespace} {INJECT_PROXY}-",
                     recreate_pod(w.namespace, w.name)])
        report.fail(f"{w.ref}: {'; '.join(p for p, _ in problems)}.",
                    expected="annotation absent, or present on a Linux pod without hostNetwork",
                    actual={INJECT_PROXY: w.annotations[INJECT_PROXY],
                            "hostNetwork": bool(w.spec.host_network),
                            "windows": _is_windows(w)},
                    fix="; ".join(f for _, f in problems).capitalize() + ".",
                    commands=commands)
    if not report.made:
        report.skip("No workload in scope asks for the proxy sidecar.")


@check("workload.windows", "Windows pods declare spec.os", layer="workload", needs=NEEDS,
       failure_modes=(30,), docs="https://azure.github.io/azure-workload-identity/docs/"
                                  "known-issues.html")
def windows(facts: Facts, report: Report) -> None:
    for w in all_workloads(facts):
        if not _is_windows(w):
            continue
        declared = w.spec.os.name if w.spec.os is not None else None
        if declared == "windows":
            report.ok(f"{w.ref}: spec.os.name is windows.")
            continue
        commands = ([patch_template(w, {"spec": {"os": {"name": "windows"}}})]
                    if w.is_deployment else
                    [edit_pod(w.namespace, w.name, '.spec.os={"name":"windows"}')])
        report.fail(f"{w.ref} targets Windows nodes but does not set spec.os.name: the token "
                    "volume mount fails (\"chown ... not supported by windows\").",
                    expected="windows", actual=declared,
                    fix="Set spec.os.name: windows in the pod spec.", commands=commands)
    if not report.made:
        report.skip("No Windows workload in scope.")


def _identity_workloads(facts: Facts) -> list[Workload]:
    return [w for w in all_workloads(facts) if w.labels.get(WI_USE_LABEL) == "true"]


def _runs_as_non_root(spec: Any) -> bool:
    pod_ctx = spec.security_context
    for c in containers(spec):
        ctx = c.security_context
        user = (ctx.run_as_user if ctx and ctx.run_as_user is not None
                else pod_ctx.run_as_user if pod_ctx else None)
        non_root = (ctx.run_as_non_root if ctx and ctx.run_as_non_root is not None
                    else pod_ctx.run_as_non_root if pod_ctx else None)
        if (user is not None and user != 0) or non_root:
            return True
    return False


@check("workload.token-file-access", "Non-root pods can read the token file", layer="workload",
       needs=NEEDS + ("kube_version",), failure_modes=(29,),
       docs="https://azure.github.io/azure-workload-identity/docs/known-issues.html")
def token_file_access(facts: Facts, report: Report) -> None:
    version = facts.get("kube_version") or ""
    if not version_below(version, (1, 19)):
        # since Kubernetes 1.19 the projected token is 0644, or 0600 owned by the pods' runAsUser
        # (kubernetes/website concepts/storage/projected-volumes.md; AWI known-issues.md)
        report.ok(f"Kubernetes {version or '(version unknown)'} makes the projected token "
                  "readable by the pod's user without fsGroup (since 1.19).")
        return
    for w in _identity_workloads(facts):
        if not _runs_as_non_root(w.spec):
            report.ok(f"{w.ref} runs as root: the token file is readable.")
            continue
        fs_group = w.spec.security_context.fs_group if w.spec.security_context else None
        if fs_group is not None:
            report.ok(f"{w.ref} runs as non-root with fsGroup {fs_group}.")
            continue
        commands = ([patch_template(w, {"spec": {"securityContext": {"fsGroup": 65534}}})]
                    if w.is_deployment else
                    [edit_pod(w.namespace, w.name, ".spec.securityContext.fsGroup=65534")])
        report.warn(f"{w.ref} runs as non-root without fsGroup: where the projected token is "
                    "written with mode 0600 the app gets \"permission denied\" reading it.",
                    expected="fsGroup set (e.g. 65534)", actual=None,
                    fix="Set the pod's securityContext.fsGroup so the token file is readable.",
                    commands=commands)
    if not report.made:
        report.skip("No workload labelled for workload identity in scope.")


VIRTUAL_NODE_SELECTOR = ("type", "virtual-kubelet")


def _targets_virtual_node(spec: Any) -> bool:
    selector = spec.node_selector or {}
    if selector.get(VIRTUAL_NODE_SELECTOR[0]) == VIRTUAL_NODE_SELECTOR[1]:
        return True
    return any((t.key or "").startswith("virtual-kubelet.io/") for t in spec.tolerations or [])


@check("workload.virtual-node", "Pods not on virtual nodes (ACI)", layer="workload",
       needs=NEEDS, failure_modes=(45,),
       docs="https://learn.microsoft.com/azure/aks/workload-identity-overview")
def virtual_node(facts: Facts, report: Report) -> None:
    for w in _identity_workloads(facts):
        if not _targets_virtual_node(w.spec):
            continue
        report.fail(f"{w.ref} targets virtual nodes (ACI), where workload identity is not "
                    "supported: its pods get no token.",
                    expected="a VM node pool", actual="virtual-kubelet",
                    fix="Schedule the workload on VM nodes: remove the virtual-kubelet "
                        "nodeSelector and toleration.",
                    commands=([patch_template(w, {"spec": {"nodeSelector": {"type": None}}})]
                              if w.is_deployment else []))
    if not report.made:
        report.ok("No workload labelled for workload identity targets virtual nodes.")
