"""Namespaces, service accounts, pods and their controllers, and the caller's permissions, read
and written as plain JSON through the kubeconfig's connection; returned as the domain's values,
errors mapped to WiErrors."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from ...core.errors import KubernetesError, KubernetesNotFound
from ...core.models import (
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAMESPACES,
    WI_TOKEN_VOLUMES,
    WI_USE_LABEL,
    Deployment,
    Pod,
    ServiceAccount,
    ServiceAccountRef,
    expected_audience,
    from_json,
)
from .client import KubeClients

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def _ns(namespace: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}"


def projected_audiences(pods: list[Pod]) -> list[str]:
    """The audiences the workload-identity token volumes of these pods ask for."""
    return [src.service_account_token.audience for pod in pods for vol in pod.spec.volumes
            if vol.projected and (vol.name == WI_TOKEN_VOLUMES[0]
                                  or vol.name.startswith(WI_TOKEN_VOLUMES[1]))
            for src in vol.projected.sources
            if src.service_account_token and src.service_account_token.audience]


class Workloads:
    def __init__(self, kube: KubeClients) -> None:
        self.kube = kube

    def issuer(self) -> str | None:
        """The issuer this cluster puts in its service-account tokens (its discovery document)."""
        try:
            doc = self.kube.get("/.well-known/openid-configuration",
                                "reading the cluster's OIDC discovery document")
        except KubernetesNotFound:
            return None
        issuer = doc.get("issuer") if isinstance(doc, dict) else None
        return issuer if isinstance(issuer, str) and issuer else None

    def token_audience(self, namespace: str) -> tuple[str, str]:
        """(audience, where it came from) of the projected tokens pods here get: the webhook's
        --audience, else what labelled pods of ``namespace`` carry, else the webhook's default."""
        args: list[list[str]] = []
        for ns in WEBHOOK_NAMESPACES:
            try:
                dep = from_json(Deployment, self.kube.get(
                    f"/apis/apps/v1/namespaces/{ns}/deployments/{WEBHOOK_DEPLOYMENT}",
                    f"reading the webhook deployment in {ns}"))
            except (KubernetesNotFound, KubernetesError):
                continue  # not installed there, or not readable: the next source decides
            args += [list(c.args) for c in dep.spec.template.spec.containers]
        pods = [from_json(Pod, p) for p in self.kube.list_items(
            f"{_ns(namespace)}/pods", f"listing the labelled pods of namespace {namespace}",
            labelSelector=f"{WI_USE_LABEL}=true")]
        return expected_audience(args, projected_audiences(pods))

    def namespace_exists(self, namespace: str) -> bool:
        try:
            self.kube.get(_ns(namespace), f"reading namespace {namespace}")
            return True
        except KubernetesNotFound:
            return False

    def service_account(self, ref: ServiceAccountRef) -> ServiceAccount | None:
        try:
            return from_json(ServiceAccount, self.kube.get(
                f"{_ns(ref.namespace)}/serviceaccounts/{quote(ref.name)}",
                f"reading service account {ref.label}"))
        except KubernetesNotFound:
            return None

    def create_namespace(self, namespace: str) -> None:
        self.kube.request("POST", "/api/v1/namespaces", f"creating namespace {namespace}",
                          body={"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": namespace}})

    def create_service_account(self, ref: ServiceAccountRef, annotations: dict[str, str]) -> None:
        self.kube.request("POST", f"{_ns(ref.namespace)}/serviceaccounts",
                          f"creating service account {ref.label}",
                          body={"apiVersion": "v1", "kind": "ServiceAccount",
                                "metadata": {"name": ref.name, "namespace": ref.namespace,
                                             "annotations": annotations}})

    def annotate(self, ref: ServiceAccountRef, annotations: dict[str, str | None]) -> None:
        """Set (value) or remove (None) annotations, leaving every other one as it is."""
        self.kube.request("PATCH", f"{_ns(ref.namespace)}/serviceaccounts/{quote(ref.name)}",
                          f"annotating service account {ref.label}",
                          body={"metadata": {"annotations": annotations}},
                          content_type=MERGE_PATCH)

    def pods_of(self, ref: ServiceAccountRef) -> list[Pod]:
        return [from_json(Pod, p) for p in self.kube.list_items(
            f"{_ns(ref.namespace)}/pods", f"listing the pods of service account {ref.label}",
            fieldSelector=f"spec.serviceAccountName={ref.name}")]

    def deployment_of(self, pod: Pod) -> str | None:
        """The Deployment that owns the pod's ReplicaSet, if any."""
        owner = pod.metadata.controller
        if owner is None or owner.kind != "ReplicaSet":
            return None
        try:
            rs = from_json(Deployment, self.kube.get(
                f"/apis/apps/v1/namespaces/{pod.metadata.namespace}/replicasets/{owner.name}",
                f"reading replica set {owner.name}"))
        except KubernetesNotFound:
            return None
        parent = rs.metadata.controller
        return parent.name if parent is not None and parent.kind == "Deployment" else None

    def restart_deployment(self, namespace: str, name: str) -> None:
        """What `kubectl rollout restart` does: a new template annotation rolls every pod."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        patch = {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": stamp}}}}}
        self.kube.request("PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                          f"restarting deployment {namespace}/{name}", body=patch,
                          content_type=STRATEGIC_MERGE_PATCH)

    def can(self, verb: str, resource: str, namespace: str | None = None,
            group: str = "") -> bool:
        """May the kubeconfig's user do this? (a SelfSubjectAccessReview, as `kubectl auth
        can-i` asks)."""
        attributes: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attributes["namespace"] = namespace
        review = self.kube.request(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            f"asking whether the kubeconfig's user may {verb} {resource}",
            body={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": attributes}})
        return bool(((review or {}).get("status") or {}).get("allowed"))
