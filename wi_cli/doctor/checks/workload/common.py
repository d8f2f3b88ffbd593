"""What the workload checks share: the view of the workloads in scope, container and env helpers,
and the kubectl commands their fixes print."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from ....core.models import (
    WI_CLIENT_ID,
    WI_USE_LABEL,
    Container,
    EnvVar,
    Pod,
    PodSpec,
    ServiceAccount,
)
from ....core.names import is_guid
from ...facts import fact
from ...facts.workloads import Key, Workload, WorkloadIndex

DOCS = ("https://azure.github.io/azure-workload-identity/docs/topics/"
        "service-account-labels-and-annotations.html")
TOKEN_EXPIRATION = "azure.workload.identity/service-account-token-expiration"
SKIP_CONTAINERS = "azure.workload.identity/skip-containers"
INJECT_PROXY = "azure.workload.identity/inject-proxy-sidecar"
PROXY_CONTAINERS = ("azwi-proxy", "azwi-proxy-init")
AUDIENCE = "api://AzureADTokenExchange"
TOKEN_FILES = {  # the webhook's token file, by layout (≤ v1.5 / v1.6)
    "/var/run/secrets/azure/tokens": "/var/run/secrets/azure/tokens/azure-identity-token",
    "/var/run/secrets/azure/wi": "/var/run/secrets/azure/wi/token/azure-identity-token",
}
# variables that make DefaultAzureCredential's EnvironmentCredential win over workload identity
SHADOWING = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_PASSWORD")
INJECTED = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_AUTHORITY_HOST")


@dataclass
class WorkloadView:
    """The subjects doctor examines in the workload layer and everything that uses them."""

    subjects: list[Key]
    by_subject: dict[Key, list[Workload]]
    index: WorkloadIndex
    pods: dict[Key, list[Pod]]  # by (namespace, service account)
    service_accounts: dict[Key, ServiceAccount]

    def service_account(self, ns: str, sa: str) -> ServiceAccount | None:
        return self.service_accounts.get((ns, sa))

    def existing(self) -> list[tuple[str, str, ServiceAccount]]:
        """(namespace, name, ServiceAccount) of the subjects that exist (missing ones are
        reported by workload.service-account)."""
        return [(ns, sa, obj) for ns, sa in self.subjects
                if (obj := self.service_accounts.get((ns, sa))) is not None]

    def workloads_of(self, ns: str, sa: str) -> list[Workload]:
        return self.by_subject.get((ns, sa), [])

    def all_workloads(self) -> list[Workload]:
        return [w for key in self.subjects for w in self.by_subject.get(key, [])]

    def pods_of(self, ns: str, sa: str) -> list[Pod]:
        return self.pods.get((ns, sa), [])

    def labelled_pods(self) -> list[Pod]:
        return [p for ns, sa in self.subjects for p in self.pods_of(ns, sa)
                if p.metadata.labels.get(WI_USE_LABEL) == "true"]

    def owner_of(self, pod: Pod) -> str | None:
        return self.index.owners.get((pod.metadata.namespace or "", pod.metadata.name))

    def template_container(self, pod: Pod, name: str) -> Container | None:
        owner = self.owner_of(pod)
        for d in self.index.deployments.get((pod.metadata.namespace or "",
                                             pod.spec.service_account), []):
            if d.metadata.name == owner:
                return next((c for c in containers(d.spec.template.spec) if c.name == name),
                            None)
        return None

    def sa_client_id(self, ns: str, sa: str) -> str | None:
        obj = self.service_account(ns, sa)
        value = obj.client_id if obj is not None else ""
        return value.lower() if is_guid(value) else None

    def restart(self, pods: Iterable[Pod]) -> list[str]:
        """Commands that re-create the pods so the webhook mutates them again."""
        commands: dict[str, None] = {}
        for pod in pods:
            ns, owner = pod.metadata.namespace or "", self.owner_of(pod)
            commands[f"kubectl rollout restart deployment/{owner} -n {ns}" if owner
                     else recreate_pod(ns, pod.metadata.name)] = None
        return list(commands)


@fact
def workload_view(workload_subjects: list[Key], workloads: dict[Key, list[Workload]],
                  workload_index: WorkloadIndex, pods_by_service_account: dict[Key, list[Pod]],
                  service_accounts_by_key: dict[Key, ServiceAccount]) -> WorkloadView:
    return WorkloadView(workload_subjects, workloads, workload_index, pods_by_service_account,
                        service_accounts_by_key)


# -- containers and their env -------------------------------------------------------------------------

def containers(spec: PodSpec) -> list[Container]:
    return [*spec.init_containers, *spec.containers]


def env_entry(container: Container, name: str) -> EnvVar | None:
    """The first entry with that name (the one the webhook sees when it checks for one)."""
    return next((e for e in container.env if e.name == name), None)


def skipped_containers(annotations: dict[str, str]) -> set[str]:
    raw = annotations.get(SKIP_CONTAINERS, "")
    return {n.strip() for n in raw.split(";") if n.strip()} if raw else set()


def finished(pod: Pod) -> str | None:
    """'Succeeded'/'Failed' for a pod that has run to completion (a Job's), else None."""
    return pod.status.phase if pod.status.phase in ("Succeeded", "Failed") else None


def _normalised(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def near_misses(annotations: dict[str, str], exact: str, suffix: str) -> dict[str, str]:
    """Keys that look like ``exact`` (client_id, clientId, ...) but are not it."""
    return {k: v for k, v in annotations.items() if k != exact
            and "workloadidentity" in _normalised(k) and _normalised(k).endswith(suffix)}


def client_id_set_by_user(container: Container, template_container: Container | None) -> bool:
    """Whether AZURE_CLIENT_ID in the container came from the manifest rather than the webhook.
    The template says so for a Deployment's pod; for a bare pod, what the webhook adds is
    appended after the manifest's variables, so its values form the trailing run of env."""
    if template_container is not None:
        return env_entry(template_container, "AZURE_CLIENT_ID") is not None
    trailing: set[str] = set()
    for entry in reversed(container.env):
        if entry.name not in INJECTED or entry.value_from is not None:
            break
        trailing.add(entry.name)
    return "AZURE_CLIENT_ID" not in trailing


def wants_client_id(annotations: dict[str, str]) -> bool:
    return bool((annotations.get(WI_CLIENT_ID) or "").strip())


# -- fix commands ----------------------------------------------------------------------------------

def pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def patch_template(w: Workload, body: dict[str, Any]) -> str:
    patch = json.dumps({"spec": {"template": body}}, separators=(",", ":"))
    return f"kubectl patch deployment {w.name} -n {w.namespace} --type=merge -p '{patch}'"


def remove_template_annotation(w: Workload, key: str) -> str:
    patch = json.dumps([{"op": "remove",
                         "path": f"/spec/template/metadata/annotations/{pointer(key)}"}])
    return f"kubectl patch deployment {w.name} -n {w.namespace} --type=json -p '{patch}'"


def recreate_pod(namespace: str, name: str) -> str:
    return f"kubectl get pod {name} -n {namespace} -o yaml | kubectl replace --force -f -"


def edit_pod(namespace: str, name: str, jq_filter: str) -> str:
    """Re-create a bare pod with a change to its spec (pod specs are mostly immutable)."""
    return (f"kubectl get pod {name} -n {namespace} -o json | jq '{jq_filter}' | "
            "kubectl replace --force -f -")


def annotate_sa(ns: str, sa: str, key: str, value: str | None) -> str:
    change = f"{key}-" if value is None else f"{key}={value} --overwrite"
    return f"kubectl annotate sa {sa} -n {ns} {change}"
