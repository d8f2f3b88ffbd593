"""Kubernetes' side of the domain: service accounts and their subject, the webhook's contract
(annotations, label, token volumes, audience), and what wi reads of pods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .pods import Pod

# -- service accounts and their subject ----------------------------------------------------------

SUBJECT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True, order=True)
class ServiceAccountRef:
    namespace: str
    name: str

    @property
    def subject(self) -> str:
        """The ``sub`` claim of this service account's tokens, which a credential must equal."""
        return f"{SUBJECT_PREFIX}{self.namespace}:{self.name}"

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_subject(cls, subject: str) -> "ServiceAccountRef | None":
        if not subject.startswith(SUBJECT_PREFIX):
            return None
        parts = subject[len(SUBJECT_PREFIX):].split(":")
        return cls(parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


# Kubernetes annotations and labels of the workload identity webhook's contract
WI_CLIENT_ID = "azure.workload.identity/client-id"
WI_TENANT_ID = "azure.workload.identity/tenant-id"
WI_USE_LABEL = "azure.workload.identity/use"


def restart_reason(pod: Pod, client_id: str, annotation_changed: bool) -> str | None:
    """Why this pod will not use ``client_id`` until it is re-created (None: it already does).
    The webhook mutates pods only when they are created; a pod that has run to completion (a
    Job's) is history: its next run is a new pod."""
    if pod.status.phase in ("Succeeded", "Failed"):
        return None
    if pod.metadata.labels.get(WI_USE_LABEL) != "true":
        return f'missing the pod label {WI_USE_LABEL}: "true"'
    if annotation_changed:
        return "created before the service account was annotated"
    for container in pod.spec.containers:
        var = container.env_var("AZURE_CLIENT_ID")
        if var is None or var.value is None:
            return f"container {container.name} has no AZURE_CLIENT_ID"
        if var.value.lower() != client_id.lower():
            return f"container {container.name} has a stale AZURE_CLIENT_ID"
    return None


DEFAULT_AUDIENCE = "api://AzureADTokenExchange"


# The workload-identity webhook's objects and its projected-token volume names (AWI
# pkg/webhook consts: ≤ v1.5 "azure-identity-token", v1.6 "azure-workload-identity-reserved-"+hash)
WEBHOOK_DEPLOYMENT = "azure-wi-webhook-controller-manager"
WEBHOOK_NAMESPACES = ("kube-system", "azure-workload-identity-system")  # AKS add-on, Helm
WI_TOKEN_VOLUMES = ("azure-identity-token", "azure-workload-identity-reserved-")


def audience_flag(args: Iterable[str]) -> str | None:
    """The webhook's ``--audience`` flag (cmd/webhook/main.go), as ``--audience=X`` or
    ``--audience X``."""
    args = list(args)
    for i, arg in enumerate(args):
        if arg.startswith("--audience="):
            return arg.split("=", 1)[1] or None
        if arg == "--audience" and i + 1 < len(args):
            return args[i + 1] or None
    return None


def expected_audience(webhook_args: Iterable[Iterable[str]],
                      pod_audiences: Iterable[str]) -> tuple[str, str]:
    """(audience, where it came from) of the cluster's projected tokens: the webhook's
    ``--audience``, else what the labelled pods' projected token volumes ask for, else the
    webhook's default. The webhook never changes it by cloud (AWI NewPodMutator)."""
    for args in webhook_args:
        flag = audience_flag(args)
        if flag:
            return flag, "the webhook's --audience flag"
    seen: dict[str, int] = {}
    for audience in pod_audiences:
        if audience:
            seen[audience] = seen.get(audience, 0) + 1
    if seen:
        return max(seen, key=lambda a: seen[a]), "the projected tokens of labelled pods"
    return DEFAULT_AUDIENCE, "the webhook's default"


def is_token_volume(name: str) -> bool:
    """Is this the webhook's projected token volume (either layout)?"""
    return name == WI_TOKEN_VOLUMES[0] or name.startswith(WI_TOKEN_VOLUMES[1])


def projected_audiences(pods: Iterable[Pod]) -> list[str]:
    """The audiences the workload-identity token volumes of these pods ask for."""
    return [src.service_account_token.audience for pod in pods for vol in pod.spec.volumes
            if vol.projected and is_token_volume(vol.name)
            for src in vol.projected.sources
            if src.service_account_token and src.service_account_token.audience]


IN_CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")


def in_cluster_issuer(issuer: str) -> bool:
    """An issuer only the cluster itself can resolve (``https://kubernetes.default.svc.cluster.local``
    on AKS with the OIDC issuer off, failure mode 13): Entra cannot fetch its discovery document,
    so no federated credential can ever trust it."""
    from urllib.parse import urlsplit

    host = (urlsplit(issuer).hostname or "").lower().rstrip(".")
    return host == "kubernetes.default" or host.endswith(IN_CLUSTER_SUFFIXES)
