"""The Kubernetes API as wi uses it: namespaces, service accounts, pods and their controllers,
the webhook's objects, token requests and the caller's permissions, read and written as plain
JSON through the kubeconfig's connection (none of the client's generated API classes, which cost
seconds to import). Returns the domain's values; errors leave as WiErrors."""

from __future__ import annotations

import time
from typing import Any, TypeVar
from urllib.parse import quote

from ...core.errors import KubernetesError, KubernetesNotFound
from ...core.models import (
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAMESPACES,
    WI_USE_LABEL,
    ConfigMap,
    Deployment,
    Endpoints,
    Event,
    MutatingWebhookConfiguration,
    Namespace,
    Pod,
    Secret,
    Service,
    ServiceAccount,
    ServiceAccountRef,
    RoleBindingRef,
    Workload,
    expected_audience,
    nest,
    role_binding,
    template_path,
    workload,
    projected_audiences,
    from_json,
    secret_from_json,
)
from .client import KubeClients

T = TypeVar("T")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def _ns(namespace: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}"


class KubeApi:
    def __init__(self, kube: KubeClients) -> None:
        self.kube = kube

    @property
    def server(self) -> str:
        return self.kube.server

    # -- reads for doctor ---------------------------------------------------------------------
    def version(self) -> str:
        return str(self.kube.get("/version", "reading the Kubernetes version").get("gitVersion"))

    def namespaces(self) -> list[Namespace]:
        return [from_json(Namespace, n)
                for n in self.kube.list_items("/api/v1/namespaces", "listing namespaces")]

    def _listed(self, cls: type[T], group: str, plural: str, namespace: str | None) -> list[T]:
        where = f"/namespaces/{quote(namespace)}" if namespace else ""
        path = f"/api/v1{where}/{plural}" if group == "" else f"/apis/{group}{where}/{plural}"
        return [from_json(cls, o) for o in self.kube.list_items(path, f"listing {plural}")]

    def service_accounts(self, namespace: str | None) -> list[ServiceAccount]:
        """In ``namespace``, or in every namespace (None)."""
        return self._listed(ServiceAccount, "", "serviceaccounts", namespace)

    def pods(self, namespace: str | None) -> list[Pod]:
        return self._listed(Pod, "", "pods", namespace)

    def deployments(self, namespace: str | None) -> list[Deployment]:
        return self._listed(Deployment, "apps/v1", "deployments", namespace)

    def services(self, namespace: str | None) -> list[Service]:
        return self._listed(Service, "", "services", namespace)

    def webhook_configurations(self) -> list[MutatingWebhookConfiguration]:
        return self._listed(MutatingWebhookConfiguration, "admissionregistration.k8s.io/v1",
                            "mutatingwebhookconfigurations", None)

    def _one(self, cls: type[T], path: str, doing: str) -> T | None:
        try:
            return from_json(cls, self.kube.get(path, doing))
        except KubernetesNotFound:
            return None

    def deployment(self, namespace: str, name: str) -> Deployment | None:
        return self._one(Deployment, f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                         f"reading deployment {namespace}/{name}")

    def endpoints(self, namespace: str, name: str) -> Endpoints | None:
        return self._one(Endpoints, f"{_ns(namespace)}/endpoints/{name}",
                         f"reading endpoints {namespace}/{name}")

    def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        return self._one(ConfigMap, f"{_ns(namespace)}/configmaps/{name}",
                         f"reading ConfigMap {namespace}/{name}")

    def secret(self, namespace: str, name: str) -> Secret | None:
        """The Secret's keys (its values are dropped as soon as they are read)."""
        try:
            return secret_from_json(self.kube.get(f"{_ns(namespace)}/secrets/{name}",
                                                  f"reading Secret {namespace}/{name}"))
        except KubernetesNotFound:
            return None

    def request_token(self, ref: ServiceAccountRef, audience: str, seconds: int) -> str:
        """A service-account token (TokenRequest), as the kubelet gets one for a pod."""
        answer = self.kube.request(
            "POST", f"{_ns(ref.namespace)}/serviceaccounts/{quote(ref.name)}/token",
            f"requesting a token for service account {ref.label}",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                  "spec": {"audiences": [audience], "expirationSeconds": seconds}})
        return str(((answer or {}).get("status") or {}).get("token") or "")

    # -- what bind and unbind read and write ----------------------------------------------------

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

    def create_service_account(self, ref: ServiceAccountRef, annotations: dict[str, str],
                               image_pull_secrets: tuple[str, ...] = ()) -> None:
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount",
                                "metadata": {"name": ref.name, "namespace": ref.namespace,
                                             "annotations": annotations}}
        if image_pull_secrets:
            body["imagePullSecrets"] = [{"name": n} for n in image_pull_secrets]
        self.kube.request("POST", f"{_ns(ref.namespace)}/serviceaccounts",
                          f"creating service account {ref.label}", body=body)

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

    # -- the probe's pod (ProbePods) ----------------------------------------------------------

    def create_config_map(self, namespace: str, manifest: dict[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        self.kube.request("POST", f"{_ns(namespace)}/configmaps",
                          f"creating ConfigMap {namespace}/{name}", body=manifest)

    def create_pod(self, namespace: str, manifest: dict[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        self.kube.request("POST", f"{_ns(namespace)}/pods", f"creating pod {namespace}/{name}",
                          body=manifest)

    def pod(self, namespace: str, name: str) -> Pod | None:
        return self._one(Pod, f"{_ns(namespace)}/pods/{quote(name)}",
                         f"reading pod {namespace}/{name}")

    def events_of(self, namespace: str, name: str) -> list[Event]:
        """The events about the object ``name`` in ``namespace``, as the API server lists them."""
        return [from_json(Event, e) for e in self.kube.list_items(
            f"{_ns(namespace)}/events", f"reading the events of {namespace}/{name}",
            fieldSelector=f"involvedObject.name={name}")]

    def pod_log(self, namespace: str, name: str, container: str, tail_lines: int) -> str:
        return str(self.kube.request(
            "GET", f"{_ns(namespace)}/pods/{quote(name)}/log",
            f"reading the log of pod {namespace}/{name}",
            query={"container": container, "tailLines": tail_lines}, text=True))

    def _delete(self, path: str, doing: str, **query: Any) -> bool:
        try:
            self.kube.request("DELETE", path, doing, query=query)
            return True
        except KubernetesNotFound:
            return False

    def delete_pod(self, namespace: str, name: str) -> bool:
        """Delete now (grace period 0); False when it was already gone."""
        return self._delete(f"{_ns(namespace)}/pods/{quote(name)}",
                            f"deleting pod {namespace}/{name}", gracePeriodSeconds=0)

    def delete_config_map(self, namespace: str, name: str) -> bool:
        return self._delete(f"{_ns(namespace)}/configmaps/{quote(name)}",
                            f"deleting ConfigMap {namespace}/{name}")

    # -- what migrate reads and writes (aad-pod-identity, workloads, backups) --------------------

    def serves(self, group: str, version: str) -> list[str] | None:
        """The resources the API server serves in ``group/version`` (discovery), None when it
        does not serve that group-version (its CRDs are not installed)."""
        try:
            doc = self.kube.get(f"/apis/{group}/{version}", f"discovering {group}/{version}")
        except KubernetesNotFound:
            return None
        return [str(r.get("name")) for r in doc.get("resources") or [] if "/" not in
                str(r.get("name"))]

    def custom_objects(self, group: str, version: str, plural: str,
                       namespace: str | None) -> list[dict[str, Any]]:
        where = f"/namespaces/{quote(namespace)}" if namespace else ""
        return self.kube.list_items(f"/apis/{group}/{version}{where}/{plural}",
                                    f"listing {plural}.{group}")

    def create_custom_object(self, group: str, version: str, plural: str, namespace: str,
                             body: dict[str, Any]) -> None:
        self.kube.request("POST", f"/apis/{group}/{version}/namespaces/{quote(namespace)}/"
                          f"{plural}", f"creating {plural}.{group} in {namespace}", body=body)

    def delete_custom_object(self, group: str, version: str, plural: str, namespace: str,
                             name: str) -> None:
        try:
            self.kube.request("DELETE", f"/apis/{group}/{version}/namespaces/{quote(namespace)}/"
                              f"{plural}/{quote(name)}", f"deleting {plural}.{group} "
                                                         f"{namespace}/{name}")
        except KubernetesNotFound:
            pass  # already gone: what was asked

    def workloads(self, namespace: str | None) -> list[Workload]:
        """Deployments, StatefulSets, DaemonSets, CronJobs, Jobs and pods in ``namespace`` (or
        every namespace)."""
        where = f"/namespaces/{quote(namespace)}" if namespace else ""
        found: list[Workload] = []
        for kind, (base, plural) in WORKLOAD_PATHS.items():
            found += [workload(kind, o) for o in self.kube.list_items(
                f"{base}{where}/{plural}", f"listing {plural}")]
        return found

    def workload(self, kind: str, namespace: str, name: str) -> Workload | None:
        base, plural = WORKLOAD_PATHS[kind]
        try:
            return workload(kind, self.kube.get(
                f"{base}/namespaces/{quote(namespace)}/{plural}/{quote(name)}",
                f"reading {kind} {namespace}/{name}"))
        except KubernetesNotFound:
            return None

    def patch_template(self, kind: str, namespace: str, name: str,
                       template_patch: dict[str, Any]) -> None:
        """A JSON merge patch of the pod template (null removes a key)."""
        base, plural = WORKLOAD_PATHS[kind]
        self.kube.request("PATCH", f"{base}/namespaces/{quote(namespace)}/{plural}/{quote(name)}",
                          f"patching the pod template of {kind} {namespace}/{name}",
                          body=nest(kind, template_patch), content_type=MERGE_PATCH)

    def replace_template(self, kind: str, namespace: str, name: str,
                         template: dict[str, Any]) -> None:
        """Put back a whole pod template (a JSON patch replacing it)."""
        base, plural = WORKLOAD_PATHS[kind]
        path = "/" + "/".join(template_path(kind))
        self.kube.request("PATCH", f"{base}/namespaces/{quote(namespace)}/{plural}/{quote(name)}",
                          f"restoring the pod template of {kind} {namespace}/{name}",
                          body=[{"op": "replace", "path": path, "value": template}],
                          content_type=JSON_PATCH)

    def pods_selected(self, namespace: str, selector: str) -> list[Pod]:
        return [from_json(Pod, p) for p in self.kube.list_items(
            f"{_ns(namespace)}/pods", f"listing the pods of namespace {namespace}",
            labelSelector=selector)]

    def role_bindings(self, namespace: str) -> list[RoleBindingRef]:
        """The RoleBindings of ``namespace`` and every ClusterRoleBinding."""
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        return ([role_binding("RoleBinding", o) for o in self.kube.list_items(
                    f"{rbac}/namespaces/{quote(namespace)}/rolebindings", "listing RoleBindings")]
                + [role_binding("ClusterRoleBinding", o) for o in self.kube.list_items(
                    f"{rbac}/clusterrolebindings", "listing ClusterRoleBindings")])

    def save_config_map(self, namespace: str, name: str, data: dict[str, str],
                        labels: dict[str, str]) -> None:
        """Create the ConfigMap, or add ``data`` to it (other keys stay)."""
        path = f"{_ns(namespace)}/configmaps"
        try:
            self.kube.request("PATCH", f"{path}/{quote(name)}", f"updating ConfigMap {name}",
                              body={"data": data}, content_type=MERGE_PATCH)
        except KubernetesNotFound:
            self.kube.request("POST", path, f"creating ConfigMap {namespace}/{name}", body={
                "apiVersion": "v1", "kind": "ConfigMap", "data": data,
                "metadata": {"name": name, "namespace": namespace, "labels": labels}})


WORKLOAD_PATHS = {"Deployment": ("/apis/apps/v1", "deployments"),
                  "StatefulSet": ("/apis/apps/v1", "statefulsets"),
                  "DaemonSet": ("/apis/apps/v1", "daemonsets"),
                  "CronJob": ("/apis/batch/v1", "cronjobs"),
                  "Job": ("/apis/batch/v1", "jobs"),
                  "Pod": ("/api/v1", "pods")}
