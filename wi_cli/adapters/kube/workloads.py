"""Namespaces, service accounts, pods and their controllers, and the caller's permissions, through
the kubernetes client; returned as the domain's values, errors mapped to WiErrors."""

from __future__ import annotations

import json
import time
from typing import Any

from ...core.errors import KubernetesError, KubernetesNotFound
from ...core.models import (
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAMESPACES,
    WI_TOKEN_VOLUMES,
    WI_USE_LABEL,
    PodSummary,
    ServiceAccount,
    ServiceAccountRef,
    expected_audience,
)
from .client import KubeClients, kube_errors


def to_pod(pod: Any) -> PodSummary:
    owner = next(((r.kind, r.name) for r in pod.metadata.owner_references or []
                  if r.controller), None)
    client_ids = tuple((c.name, next((e.value for e in c.env or []
                                      if e.name == "AZURE_CLIENT_ID"), None))
                       for c in pod.spec.containers or [])
    return PodSummary(pod.metadata.namespace, pod.metadata.name,
                      pod.spec.service_account_name or "default", dict(pod.metadata.labels or {}),
                      client_ids, owner, (pod.status.phase if pod.status else "") or "")


class Workloads:
    def __init__(self, kube: KubeClients) -> None:
        self.kube = kube

    def _errors(self, doing: str) -> Any:
        return kube_errors(doing, self.kube.server)

    def issuer(self) -> str | None:
        """The issuer this cluster puts in its service-account tokens (its discovery document)."""
        try:
            with self._errors("reading the cluster's OIDC discovery document"):
                raw = self.kube.well_known.get_service_account_issuer_open_id_configuration(
                    _preload_content=False)
        except KubernetesNotFound:
            return None
        try:
            doc = json.loads(raw.data)
        except ValueError:
            return None
        issuer = doc.get("issuer") if isinstance(doc, dict) else None
        return issuer if isinstance(issuer, str) and issuer else None

    def token_audience(self, namespace: str) -> tuple[str, str]:
        """(audience, where it came from) of the projected tokens pods here get: the webhook's
        --audience, else what labelled pods of ``namespace`` carry, else the webhook's default."""
        args: list[list[str]] = []
        for ns in WEBHOOK_NAMESPACES:
            try:
                with self._errors(f"reading the webhook deployment in {ns}"):
                    dep = self.kube.apps.read_namespaced_deployment(WEBHOOK_DEPLOYMENT, ns)
            except (KubernetesNotFound, KubernetesError):
                continue  # not installed there, or not readable: the next source decides
            args += [list(c.args or []) for c in dep.spec.template.spec.containers or []]
        with self._errors(f"listing the labelled pods of namespace {namespace}"):
            pods = self.kube.core.list_namespaced_pod(
                namespace, label_selector=f"{WI_USE_LABEL}=true").items
        audiences = [src.service_account_token.audience for pod in pods
                     for vol in pod.spec.volumes or []
                     if vol.projected and (vol.name == WI_TOKEN_VOLUMES[0]
                                           or vol.name.startswith(WI_TOKEN_VOLUMES[1]))
                     for src in vol.projected.sources or [] if src.service_account_token]
        return expected_audience(args, audiences)

    def namespace_exists(self, namespace: str) -> bool:
        try:
            with self._errors(f"reading namespace {namespace}"):
                self.kube.core.read_namespace(namespace)
            return True
        except KubernetesNotFound:
            return False

    def service_account(self, ref: ServiceAccountRef) -> ServiceAccount | None:
        try:
            with self._errors(f"reading service account {ref.label}"):
                sa = self.kube.core.read_namespaced_service_account(ref.name, ref.namespace)
        except KubernetesNotFound:
            return None
        return ServiceAccount(ref, dict(sa.metadata.annotations or {}))

    def create_namespace(self, namespace: str) -> None:
        with self._errors(f"creating namespace {namespace}"):
            self.kube.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": namespace}})

    def create_service_account(self, ref: ServiceAccountRef, annotations: dict[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": ref.name, "namespace": ref.namespace,
                             "annotations": annotations}}
        with self._errors(f"creating service account {ref.label}"):
            self.kube.core.create_namespaced_service_account(ref.namespace, body)

    def annotate(self, ref: ServiceAccountRef, annotations: dict[str, str | None]) -> None:
        """Set (value) or remove (None) annotations, leaving every other one as it is."""
        with self._errors(f"annotating service account {ref.label}"):
            self.kube.core.patch_namespaced_service_account(
                ref.name, ref.namespace, {"metadata": {"annotations": annotations}})

    def pods_of(self, ref: ServiceAccountRef) -> list[PodSummary]:
        with self._errors(f"listing the pods of service account {ref.label}"):
            pods = self.kube.core.list_namespaced_pod(
                ref.namespace, field_selector=f"spec.serviceAccountName={ref.name}").items
        return [to_pod(p) for p in pods]

    def deployment_of(self, pod: PodSummary) -> str | None:
        """The Deployment that owns the pod's ReplicaSet, if any."""
        if pod.owner is None or pod.owner[0] != "ReplicaSet":
            return None
        try:
            with self._errors(f"reading replica set {pod.owner[1]}"):
                rs = self.kube.apps.read_namespaced_replica_set(pod.owner[1], pod.namespace)
        except KubernetesNotFound:
            return None
        return next((o.name for o in rs.metadata.owner_references or []
                     if o.kind == "Deployment" and o.controller), None)

    def restart_deployment(self, namespace: str, name: str) -> None:
        """What `kubectl rollout restart` does: a new template annotation rolls every pod."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        patch = {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": stamp}}}}}
        with self._errors(f"restarting deployment {namespace}/{name}"):
            self.kube.apps.patch_namespaced_deployment(name, namespace, patch)

    def can(self, verb: str, resource: str, namespace: str | None = None,
            group: str = "") -> bool:
        """May the kubeconfig's user do this? (a SelfSubjectAccessReview, as `kubectl auth
        can-i` asks)."""
        from kubernetes import client

        attributes: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attributes["namespace"] = namespace
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes}}
        with self._errors(f"asking whether the kubeconfig's user may {verb} {resource}"):
            review = client.AuthorizationV1Api(self.kube.api_client) \
                .create_self_subject_access_review(body)
        return bool(review.status and review.status.allowed)
