"""The Azure Workload Identity mutating webhook, emulated (the AKS add-on and the Helm chart).

Two halves:

* :func:`mutate_pod` is the webhook's pod mutation as a pure function (pod, SA, settings) ->
  mutated pod, or :class:`WebhookDenied` with the webhook's own message.
* :func:`install_workload_identity_addon` / :func:`install_helm_webhook` seed the objects a real
  installation has (MutatingWebhookConfiguration, Deployment, ReplicaSet, pods, Service,
  Endpoints, EndpointSlice, ConfigMap) and register an admission hook that, like the API server,
  reads those stored objects at admission time: the configuration's selectors and failure
  policy decide, and a service without ready endpoints makes the call fail.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .selectors import match_label_selector_object

if TYPE_CHECKING:
    from .cluster import KubeCluster

# -- the contract (pkg/webhook/consts.go) --------------------------------------------------------
USE_LABEL = "azure.workload.identity/use"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
TOKEN_EXPIRATION_ANNOTATION = "azure.workload.identity/service-account-token-expiration"
SKIP_CONTAINERS_ANNOTATION = "azure.workload.identity/skip-containers"
INJECT_PROXY_ANNOTATION = "azure.workload.identity/inject-proxy-sidecar"
PROXY_PORT_ANNOTATION = "azure.workload.identity/proxy-sidecar-port"
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
MIN_EXPIRATION, MAX_EXPIRATION, DEFAULT_EXPIRATION = 3600, 86400, 3600
DEFAULT_PROXY_PORT = 8000
PROXY_INIT_NAME, PROXY_SIDECAR_NAME = "azwi-proxy-init", "azwi-proxy"
RESERVED_VOLUME_PREFIX = "azure-workload-identity-reserved-"
_GO_INT = re.compile(r"[+-]?[0-9]+")

WEBHOOK_NAME = "mutation.azure-workload-identity.io"
CONFIGURATION_NAME = "azure-wi-webhook-mutating-webhook-configuration"
SERVICE_NAME = "azure-wi-webhook-webhook-service"
DEPLOYMENT_NAME = "azure-wi-webhook-controller-manager"
CONFIGMAP_NAME = "azure-wi-webhook-config"
SERVER_CERT_SECRET = "azure-wi-webhook-server-cert"
SYSTEM_LABEL = "azure-workload-identity.io/system"
ADDON_NAMESPACE = "kube-system"
HELM_NAMESPACE = "azure-workload-identity-system"
# the chart's values.yaml image.repository; the AKS add-on too (Azure/AKS#4381)
IMAGE_REPO = "mcr.microsoft.com/oss/azure/workload-identity"
# What the AKS admissions enforcer adds to every webhook's namespaceSelector (Kong/kong-operator#239,
# Azure/AKS#4002), and the labels AKS puts on kube-system that those expressions exclude.
AKS_ENFORCER_EXPRESSIONS = (
    {"key": "control-plane", "operator": "NotIn", "values": ["true"]},
    {"key": "kubernetes.azure.com/managedby", "operator": "NotIn", "values": ["aks"]},
)
AKS_SYSTEM_NAMESPACE_LABELS = {"control-plane": "true", "kubernetes.azure.com/managedby": "aks"}
LAYOUT_VERSIONS = {"v1.5": "v1.5.1", "v1.6": "v1.6.0"}


@dataclass(frozen=True)
class Layout:
    """Where the token lands: differs between AWI ≤ v1.5 and v1.6."""

    name: str
    mount_path: str
    token_path: str  # relative to mount_path

    @property
    def token_file(self) -> str:
        return f"{self.mount_path}/{self.token_path}"

    def volume_name(self, pod_name: str) -> str:
        if self.name == "v1.5":
            return "azure-identity-token"
        digest = hashlib.sha256(pod_name.encode()).hexdigest()
        return RESERVED_VOLUME_PREFIX + digest[:63 - len(RESERVED_VOLUME_PREFIX)]


LAYOUTS = {
    "v1.5": Layout("v1.5", "/var/run/secrets/azure/tokens", "azure-identity-token"),
    "v1.6": Layout("v1.6", "/var/run/secrets/azure/wi", "token/azure-identity-token"),
}


@dataclass
class WebhookSettings:
    """What the running webhook knows: its config (ConfigMap), flags and the cluster version."""

    tenant_id: str
    authority_host: str
    layout: Layout
    audience: str = DEFAULT_AUDIENCE
    native_sidecar: bool = True  # Kubernetes >= 1.32
    proxy_image: str = f"{IMAGE_REPO}/proxy:v1.6.0"
    proxy_init_image: str = f"{IMAGE_REPO}/proxy-init:v1.6.0"


class WebhookDenied(Exception):
    """The webhook's own refusal (``admission.Errored``): message and HTTP code."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# -- the mutation ---------------------------------------------------------------------------------
def pod_display_name(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return meta.get("name") or (meta.get("generateName") or "") + " (prefix)"


def token_expiration(pod: dict[str, Any], sa: dict[str, Any]) -> int:
    pod_value = ((pod.get("metadata") or {}).get("annotations") or {}).get(
        TOKEN_EXPIRATION_ANNOTATION, "")
    sa_value = ((sa.get("metadata") or {}).get("annotations") or {}).get(
        TOKEN_EXPIRATION_ANNOTATION, "")
    raw = pod_value or sa_value
    value = DEFAULT_EXPIRATION
    if raw:
        if not _GO_INT.fullmatch(raw):  # strconv.ParseInt: no spaces, optional sign
            raise WebhookDenied(f'strconv.ParseInt: parsing "{raw}": invalid syntax')
        value = int(raw)
    if not MIN_EXPIRATION <= value <= MAX_EXPIRATION:
        raise WebhookDenied(f"token expiration {value} not valid. Expected value to be between "
                            f"{MIN_EXPIRATION} and {MAX_EXPIRATION}")
    return value


def skip_containers(pod: dict[str, Any]) -> set[str]:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(
        SKIP_CONTAINERS_ANNOTATION, "")
    return {name.strip() for name in raw.split(";")} if raw else set()


def proxy_port(pod: dict[str, Any]) -> int:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(PROXY_PORT_ANNOTATION)
    if raw is None:
        return DEFAULT_PROXY_PORT
    if not _GO_INT.fullmatch(raw):
        raise WebhookDenied(f'failed to parse proxy sidecar port: strconv.ParseInt: parsing '
                            f'"{raw}": invalid syntax')
    port = int(raw)
    if not -2**31 <= port < 2**31:
        raise WebhookDenied(f'failed to parse proxy sidecar port: strconv.ParseInt: parsing '
                            f'"{raw}": value out of range')
    return port


def _proxy_init_container(settings: WebhookSettings, port: int) -> dict[str, Any]:
    return {
        "name": PROXY_INIT_NAME, "image": settings.proxy_init_image,
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                            "privileged": True, "runAsNonRoot": False, "runAsUser": 0},
        "env": [{"name": "PROXY_PORT", "value": str(port)}],
    }


def _proxy_sidecar(settings: WebhookSettings, port: int) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": PROXY_SIDECAR_NAME, "image": settings.proxy_image,
        "imagePullPolicy": "IfNotPresent",
        "args": [f"--proxy-port={port}", "--log-level=info"],
        "ports": [{"containerPort": port}],
        "lifecycle": {"postStart": {"exec": {"command": [
            "/proxy", f"--proxy-port={port}", "--probe", "--log-level=info"]}}},
        "securityContext": {"allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "privileged": False,
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True},
    }
    if settings.native_sidecar:
        container["restartPolicy"] = "Always"
    return container


def inject_proxy(pod: dict[str, Any], settings: WebhookSettings) -> None:
    spec = pod.setdefault("spec", {})
    if spec.get("hostNetwork"):
        raise WebhookDenied("hostNetwork is set to true, cannot inject proxy sidecar")
    port = proxy_port(pod)
    inits = spec.setdefault("initContainers", [])
    if not any(c.get("name") == PROXY_INIT_NAME for c in inits):
        inits.append(_proxy_init_container(settings, port))
    target = "initContainers" if settings.native_sidecar else "containers"
    containers = spec.setdefault(target, [])
    if not any(c.get("name") == PROXY_SIDECAR_NAME for c in containers):
        spec[target] = [_proxy_sidecar(settings, port), *containers]


def add_env(container: dict[str, Any], desired: list[tuple[str, str]]) -> None:
    """Append each non-empty variable the container does not define itself (envFrom ignored)."""
    env = container.setdefault("env", [])
    present = {e.get("name") for e in env}
    for name, value in desired:
        if value and name not in present:
            env.append({"name": name, "value": value})
    if not env:
        container.pop("env")


def add_mount(container: dict[str, Any], volume_name: str, mount_path: str,
              replace: bool = True) -> None:
    """Mount the token volume; an existing mount of that name is replaced (v1.6:
    addProjectedVolumeMount) or kept as it is (v1.5.1: addProjectedTokenVolumeMount)."""
    mount = {"name": volume_name, "readOnly": True, "mountPath": mount_path}
    mounts = container.setdefault("volumeMounts", [])
    for i, existing in enumerate(mounts):
        if existing.get("name") == volume_name:
            if replace:
                mounts[i] = mount
            return
    mounts.append(mount)


def token_volume(name: str, layout: Layout, expiration: int, audience: str) -> dict[str, Any]:
    return {"name": name, "projected": {"sources": [{"serviceAccountToken": {
        "audience": audience, "expirationSeconds": expiration, "path": layout.token_path}}],
        "defaultMode": 420}}


def mutate_pod(pod: dict[str, Any], sa: dict[str, Any],
               settings: WebhookSettings) -> dict[str, Any]:
    """The AWI webhook's mutation of a pod on CREATE; returns a new pod dict."""
    pod = copy.deepcopy(pod)
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if INJECT_PROXY_ANNOTATION in annotations:  # presence only, "false" injects too
        inject_proxy(pod, settings)
    expiration = token_expiration(pod, sa)
    sa_annotations = (sa.get("metadata") or {}).get("annotations") or {}
    client_id = sa_annotations.get(CLIENT_ID_ANNOTATION, "")
    tenant_id = (sa_annotations[TENANT_ID_ANNOTATION] if TENANT_ID_ANNOTATION in sa_annotations
                 else settings.tenant_id)
    layout = settings.layout
    volume_name = layout.volume_name(pod_display_name(pod))
    desired = [("AZURE_CLIENT_ID", client_id), ("AZURE_TENANT_ID", tenant_id),
               ("AZURE_FEDERATED_TOKEN_FILE", layout.token_file),
               ("AZURE_AUTHORITY_HOST", settings.authority_host)]
    skipped = skip_containers(pod)
    spec = pod.setdefault("spec", {})
    replace = layout.name != "v1.5"
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if container.get("name") in skipped:
                continue
            add_env(container, desired)
            add_mount(container, volume_name, layout.mount_path, replace)
    volume = token_volume(volume_name, layout, expiration, settings.audience)
    volumes = spec.setdefault("volumes", [])
    if not replace and _has_token_source(volumes, layout.token_path):
        return pod  # v1.5.1 addProjectedServiceAccountTokenVolume: keep the existing one
    for i, existing in enumerate(volumes):
        if existing.get("name") == volume_name:
            volumes[i] = volume
            break
    else:
        volumes.append(volume)
    return pod


def _has_token_source(volumes: list[dict[str, Any]], path: str) -> bool:
    """A projected volume already carries a service-account token at ``path``."""
    return any((source.get("serviceAccountToken") or {}).get("path") == path
               for volume in volumes for source in (volume.get("projected") or {}).get(
                   "sources") or [])


# -- what the API server does around the call -----------------------------------------------------
def _labels(obj: dict[str, Any] | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def _rule_matches(rules: list[dict[str, Any]], operation: str, plural: str) -> bool:
    for rule in rules or []:
        ops = rule.get("operations") or []
        resources = rule.get("resources") or []
        groups = rule.get("apiGroups") or []
        if (("*" in ops or operation in ops) and ("*" in resources or plural in resources)
                and ("*" in groups or "" in groups)):
            return True
    return False


def _namespace_labels(cluster: "KubeCluster", namespace: str) -> dict[str, str]:
    labels = _labels(_get(cluster, "namespaces", None, namespace))
    labels.setdefault("kubernetes.io/metadata.name", namespace)
    return labels


def _get(cluster: "KubeCluster", plural: str, namespace: str | None,
         name: str) -> dict[str, Any] | None:
    try:
        return cluster.store.get(plural, namespace, name)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _items(listing: Any) -> list[dict[str, Any]]:
    if isinstance(listing, dict):
        return list(listing.get("items") or [])
    if isinstance(listing, tuple):  # (items, resourceVersion)
        return list(listing[0])
    return list(listing)


def call_failure(webhook: dict[str, Any], service: dict[str, Any], detail: str) -> ApiError:
    """The API server's error when it cannot reach the webhook (apierrors.NewInternalError)."""
    path = service.get("path") or ""
    port = service.get("port") or 443
    timeout = webhook.get("timeoutSeconds") or 10
    url = (f"https://{service.get('name')}.{service.get('namespace')}.svc:{port}{path}"
           f"?timeout={timeout}s")
    err = (f'failed calling webhook "{webhook.get("name")}": failed to call webhook: '
           f'Post "{url}": {detail}')
    return ApiError(500, "InternalError", f"Internal error occurred: {err}",
                    {"causes": [{"message": err}]})


def service_unreachable_reason(cluster: "KubeCluster", namespace: str, name: str) -> str | None:
    """Why the API server cannot reach the service, or None when it has a ready endpoint."""
    if _get(cluster, "services", namespace, name) is None:
        return f'service "{name}" not found'
    endpoints = _get(cluster, "endpoints", namespace, name)
    for subset in (endpoints or {}).get("subsets") or []:
        if subset.get("addresses"):
            return None
    return f'no endpoints available for service "{name}"'


def denied(webhook_name: str, exc: WebhookDenied) -> ApiError:
    """What the API server makes of a webhook's refusal (webhookerrors.ToStatusErr)."""
    code = exc.code if exc.code >= 400 else 400
    message = f'admission webhook "{webhook_name}" denied the request: {exc.message}'
    err = ApiError(code, "", message)
    return err


def settings_from_store(cluster: "KubeCluster", namespace: str) -> WebhookSettings:
    """The webhook's settings as its stored objects describe them (ConfigMap, image tag)."""
    config = _get(cluster, "configmaps", namespace, CONFIGMAP_NAME) or {}
    data = config.get("data") or {}
    return WebhookSettings(
        tenant_id=data.get("AZURE_TENANT_ID", ""),
        authority_host=cluster.lab.authority_host,
        layout=LAYOUTS[_layout_of_deployment(cluster, namespace)],
        audience=_audience_of_deployment(cluster, namespace) or DEFAULT_AUDIENCE,
    )


def _manager_args(cluster: "KubeCluster", namespace: str) -> list[str]:
    deployment = _get(cluster, "deployments", namespace, DEPLOYMENT_NAME) or {}
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec")
                  or {}).get("containers") or []
    return [a for c in containers if "/webhook:" in c.get("image", "") for a in c.get("args") or []]


def _audience_of_deployment(cluster: "KubeCluster", namespace: str) -> str | None:
    """The webhook's --audience flag (cmd/webhook/main.go:76); the cloud never changes it."""
    args = _manager_args(cluster, namespace)
    for i, arg in enumerate(args):
        if arg.startswith("--audience="):
            return arg.split("=", 1)[1]
        if arg == "--audience" and i + 1 < len(args):
            return args[i + 1]
    return None


def _layout_of_deployment(cluster: "KubeCluster", namespace: str) -> str:
    deployment = _get(cluster, "deployments", namespace, DEPLOYMENT_NAME) or {}
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec")
                  or {}).get("containers") or []
    for container in containers:
        image = container.get("image", "")
        if "/webhook:" in image:
            tag = image.rsplit(":", 1)[1]
            return "v1.5" if tag.startswith(("v0.", "v1.0", "v1.1", "v1.2", "v1.3", "v1.4",
                                             "v1.5")) else "v1.6"
    return "v1.6"


class WorkloadIdentityAdmission:
    """The admission hook: runs every AWI webhook configured in the store against a pod CREATE."""

    def __init__(self, cluster: "KubeCluster") -> None:
        self.cluster = cluster

    def __call__(self, req: Any) -> dict[str, Any] | None:
        if req.plural != "pods" or req.operation != "CREATE":
            return None
        pod = req.obj
        mutated = False
        for config in _items(self.cluster.store.list("mutatingwebhookconfigurations", None)):
            for webhook in config.get("webhooks") or []:
                result = self._call(webhook, req.namespace, pod)
                if result is not None:
                    pod, mutated = result, True
        return pod if mutated else None

    def _call(self, webhook: dict[str, Any], namespace: str,
              pod: dict[str, Any]) -> dict[str, Any] | None:
        service = (webhook.get("clientConfig") or {}).get("service") or {}
        if service.get("name") != SERVICE_NAME:
            return None  # not an AWI webhook; the lab runs no other webhook servers
        if not _rule_matches(webhook.get("rules") or [], "CREATE", "pods"):
            return None
        if not match_label_selector_object(webhook.get("objectSelector"), _labels(pod)):
            return None
        if not match_label_selector_object(webhook.get("namespaceSelector"),
                                           _namespace_labels(self.cluster, namespace)):
            return None
        unreachable = service_unreachable_reason(self.cluster, service.get("namespace", ""),
                                                 SERVICE_NAME)
        if unreachable:
            if webhook.get("failurePolicy", "Fail") == "Ignore":
                return None
            raise call_failure(webhook, service, unreachable)
        return self._mutate(webhook, namespace, pod, service.get("namespace", ""))

    def _mutate(self, webhook: dict[str, Any], namespace: str, pod: dict[str, Any],
                webhook_namespace: str) -> dict[str, Any]:
        sa_name = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        try:
            sa = _get(self.cluster, "serviceaccounts", namespace, sa_name)
            if sa is None:
                raise WebhookDenied(f'serviceaccounts "{sa_name}" not found')
            return mutate_pod(pod, sa, settings_from_store(self.cluster, webhook_namespace))
        except WebhookDenied as exc:
            raise denied(webhook.get("name", WEBHOOK_NAME), exc) from None


# -- the installed objects ------------------------------------------------------------------------
def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def webhook_configuration(namespace: str, *, managed_by_aks: bool,
                          on_aks: bool | None = None) -> dict[str, Any]:
    """The MutatingWebhookConfiguration. The chart's default namespaceSelector is empty
    (values.yaml mutatingWebhookNamespaceSelector: {}), so a Helm install elsewhere mutates
    kube-system too; on AKS the admissions enforcer adds its expressions to every webhook."""
    namespace_selector: dict[str, Any] = {}
    if managed_by_aks if on_aks is None else on_aks:
        namespace_selector["matchExpressions"] = [dict(e, values=list(e["values"]))
                                                  for e in AKS_ENFORCER_EXPRESSIONS]
    labels = {SYSTEM_LABEL: "true"}
    if not managed_by_aks:
        labels.update({"app.kubernetes.io/managed-by": "Helm", "chart": "workload-identity-webhook"})
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION_NAME, "labels": labels,
                     "annotations": {"meta.helm.sh/release-name":
                                     "aks-managed-workload-identity" if managed_by_aks
                                     else "workload-identity-webhook",
                                     "meta.helm.sh/release-namespace": namespace}},
        "webhooks": [{
            "name": WEBHOOK_NAME,
            "admissionReviewVersions": ["v1", "v1beta1"],
            "clientConfig": {"service": {"name": SERVICE_NAME, "namespace": namespace,
                                         "path": "/mutate-v1-pod", "port": 443},
                             "caBundle": ""},
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "namespaceSelector": namespace_selector,
            "objectSelector": {"matchLabels": {USE_LABEL: "true"}},
            "reinvocationPolicy": "IfNeeded",
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                       "resources": ["pods"], "scope": "*"}],
            "sideEffects": "None",
            "timeoutSeconds": 10,
        }],
    }


def _app_labels(managed_by_aks: bool) -> dict[str, str]:
    labels = {SYSTEM_LABEL: "true"}
    if not managed_by_aks:
        labels["app"] = "workload-identity-webhook"
    return labels


def _pod_template(layout: str, managed_by_aks: bool) -> dict[str, Any]:
    version = LAYOUT_VERSIONS[layout]
    return {
        "metadata": {"labels": _app_labels(managed_by_aks)},
        "spec": {
            "serviceAccountName": "azure-wi-webhook-admin",
            "containers": [{
                "name": "manager",
                "image": f"{IMAGE_REPO}/webhook:{version}",
                "imagePullPolicy": "IfNotPresent",
                "args": ["--log-level=info", "--disable-cert-rotation=false",
                         "--metrics-addr=:8095", "--metrics-backend=prometheus"],
                "envFrom": [{"configMapRef": {"name": CONFIGMAP_NAME}}],
                "ports": [{"containerPort": 9443, "name": "webhook-server", "protocol": "TCP"},
                          {"containerPort": 8095, "name": "metrics", "protocol": "TCP"},
                          {"containerPort": 9440, "name": "healthz", "protocol": "TCP"}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}},
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": "healthz"}},
            }],
        },
    }


def _create(cluster: "KubeCluster", plural: str, namespace: str | None,
            obj: dict[str, Any]) -> dict[str, Any]:
    return cluster.store.create(plural, namespace, obj)


def _ensure_namespace(cluster: "KubeCluster", namespace: str) -> None:
    if _get(cluster, "namespaces", None, namespace) is None:
        _create(cluster, "namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": namespace}})


class WebhookInstallation:
    """One installed webhook (add-on or Helm) and its tiny controller.

    Scaling the Deployment (``spec.replicas``) or deleting its pods is followed like a
    ReplicaSet controller and the endpoints controller would: pods are (re)created up to the
    replica count and the Endpoints/EndpointSlice list the ready ones.
    """

    def __init__(self, cluster: "KubeCluster", namespace: str, tenant_id: str, layout: str,
                 managed_by_aks: bool) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown webhook layout {layout!r} (v1.5 or v1.6)")
        self.cluster = cluster
        self.namespace = namespace
        self.tenant_id = tenant_id
        self.layout = layout
        self.managed_by_aks = managed_by_aks
        self.replicaset_name = f"{DEPLOYMENT_NAME}-{uuid.uuid4().hex[:10]}"
        self._lock = threading.RLock()
        self._reconciling = False
        self.active = True

    # objects ------------------------------------------------------------------------------------
    def install(self) -> "WebhookInstallation":
        ns, c = self.namespace, self.cluster
        self.active = False  # no reconciling until every object is there
        _ensure_namespace(c, ns)
        _create(c, "configmaps", ns, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP_NAME, "namespace": ns,
                         "labels": _app_labels(self.managed_by_aks)},
            "data": {"AZURE_ENVIRONMENT": "AzurePublicCloud", "AZURE_TENANT_ID": self.tenant_id},
        })
        _create(c, "serviceaccounts", ns, {"apiVersion": "v1", "kind": "ServiceAccount",
                                           "metadata": {"name": "azure-wi-webhook-admin",
                                                        "namespace": ns}})
        _create(c, "services", ns, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE_NAME, "namespace": ns,
                         "labels": _app_labels(self.managed_by_aks)},
            "spec": {"type": "ClusterIP", "selector": _app_labels(self.managed_by_aks),
                     "ports": [{"port": 443, "protocol": "TCP", "targetPort": "webhook-server"}]},
        })
        deployment = _create(c, "deployments", ns, self._deployment_body())
        self._create_replicaset(deployment)
        self._create_secret()
        if _get(c, "mutatingwebhookconfigurations", None, CONFIGURATION_NAME) is None:
            # a second (Helm) install on an add-on cluster finds the name taken
            _create(c, "mutatingwebhookconfigurations", None,
                    webhook_configuration(ns, managed_by_aks=self.managed_by_aks,
                                          on_aks=getattr(c, "aks", None) is not None))
        self.active = True
        self.reconcile()
        return self

    def _deployment_body(self) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT_NAME, "namespace": self.namespace,
                         "labels": _app_labels(self.managed_by_aks)},
            "spec": {"replicas": 2, "selector": {"matchLabels": _app_labels(self.managed_by_aks)},
                     "template": _pod_template(self.layout, self.managed_by_aks)},
        }

    def _create_replicaset(self, deployment: dict[str, Any]) -> None:
        template = copy.deepcopy(deployment["spec"]["template"])
        template["metadata"]["labels"]["pod-template-hash"] = self.replicaset_name.rsplit("-", 1)[1]
        _create(self.cluster, "replicasets", self.namespace, {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": self.replicaset_name, "namespace": self.namespace,
                         "labels": template["metadata"]["labels"],
                         "ownerReferences": [_owner("apps/v1", "Deployment", deployment)]},
            "spec": {"replicas": 2, "selector": {"matchLabels": template["metadata"]["labels"]},
                     "template": template},
        })

    def _create_secret(self) -> None:
        _create(self.cluster, "secrets", self.namespace, {
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": SERVER_CERT_SECRET, "namespace": self.namespace},
            "data": {"tls.crt": "", "tls.key": "", "ca.crt": ""},
        })

    # controller ---------------------------------------------------------------------------------
    def uninstall(self) -> None:
        """Remove every object this installation created (``--disable-workload-identity``)."""
        self.active = False
        ns = self.namespace
        configuration = _get(self.cluster, "mutatingwebhookconfigurations", None,
                             CONFIGURATION_NAME)
        service = (((configuration or {}).get("webhooks") or [{}])[0].get("clientConfig")
                   or {}).get("service") or {}
        if configuration is not None and service.get("namespace") == ns:
            self.cluster.store.delete("mutatingwebhookconfigurations", None, CONFIGURATION_NAME)
        for plural, name in (("deployments", DEPLOYMENT_NAME),
                             ("replicasets", self.replicaset_name),
                             ("services", SERVICE_NAME), ("endpoints", SERVICE_NAME),
                             ("endpointslices", f"{SERVICE_NAME}-lab"),
                             ("configmaps", CONFIGMAP_NAME), ("secrets", SERVER_CERT_SECRET),
                             ("serviceaccounts", "azure-wi-webhook-admin")):
            self._delete(plural, name)
        for pod in self._webhook_pods():
            self._delete("pods", pod["metadata"]["name"])

    def on_event(self, event_type: str, plural: str, obj: dict[str, Any]) -> None:
        if not self.active:
            return
        meta = obj.get("metadata") or {}
        if meta.get("namespace") != self.namespace:
            return
        if plural == "deployments" and meta.get("name") == DEPLOYMENT_NAME:
            self.reconcile()
        elif plural == "pods" and event_type == "DELETED" and _labels(obj).get(SYSTEM_LABEL):
            self.reconcile()

    def reconcile(self) -> None:
        with self._lock:
            if self._reconciling:
                return
            self._reconciling = True
            try:
                self._reconcile()
            finally:
                self._reconciling = False

    def _reconcile(self) -> None:
        deployment = _get(self.cluster, "deployments", self.namespace, DEPLOYMENT_NAME)
        replicas = 0 if deployment is None else int(
            (deployment.get("spec") or {}).get("replicas", 1))
        pods = self._webhook_pods()
        for pod in pods[replicas:]:
            self._delete("pods", pod["metadata"]["name"])
        for _ in range(replicas - len(pods)):
            self._create_pod()
        ready = self._webhook_pods()
        self._write_endpoints(ready)
        if deployment is not None:
            self._write_status(deployment, replicas, len(ready))

    def _webhook_pods(self) -> list[dict[str, Any]]:
        pods = _items(self.cluster.store.list("pods", self.namespace))
        mine = [p for p in pods if _labels(p).get(SYSTEM_LABEL) == "true"
                and not (p.get("metadata") or {}).get("deletionTimestamp")]
        return sorted(mine, key=lambda p: p["metadata"]["name"])

    def _create_pod(self) -> None:
        from .kubelet import seed_running_pod

        rs = _get(self.cluster, "replicasets", self.namespace, self.replicaset_name)
        template = copy.deepcopy(rs["spec"]["template"]) if rs else _pod_template(
            self.layout, self.managed_by_aks)
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {**template["metadata"],
                            "name": f"{self.replicaset_name}-{uuid.uuid4().hex[:5]}",
                            "namespace": self.namespace,
                            "ownerReferences": [_owner("apps/v1", "ReplicaSet", rs)] if rs else []},
               "spec": template["spec"]}
        seed_running_pod(self.cluster, pod)

    def _delete(self, plural: str, name: str) -> None:
        try:
            self.cluster.store.delete(plural, self.namespace, name)
        except ApiError as exc:
            if exc.status != 404:
                raise

    def _write_endpoints(self, pods: list[dict[str, Any]]) -> None:
        addresses = [{"ip": (p.get("status") or {}).get("podIP", "10.244.0.10"),
                      "nodeName": (p.get("spec") or {}).get("nodeName"),
                      "targetRef": {"kind": "Pod", "name": p["metadata"]["name"],
                                    "namespace": self.namespace,
                                    "uid": p["metadata"].get("uid")}} for p in pods]
        subsets = [{"addresses": addresses,
                    "ports": [{"port": 9443, "protocol": "TCP"}]}] if addresses else []
        endpoints: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": SERVICE_NAME, "namespace": self.namespace,
                                  "labels": _app_labels(self.managed_by_aks)}}
        if subsets:
            endpoints["subsets"] = subsets
        self._upsert("endpoints", SERVICE_NAME, endpoints, ("subsets",))
        slice_name = f"{SERVICE_NAME}-lab"
        self._upsert("endpointslices", slice_name, {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": slice_name, "namespace": self.namespace,
                         "labels": {"kubernetes.io/service-name": SERVICE_NAME,
                                    "endpointslice.kubernetes.io/managed-by":
                                        "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [a["ip"]],
                           "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": a["nodeName"], "targetRef": a["targetRef"]}
                          for a in addresses],
            "ports": [{"name": "", "port": 9443, "protocol": "TCP"}],
        }, ("endpoints", "ports"))

    def _upsert(self, plural: str, name: str, body: dict[str, Any],
                fields: tuple[str, ...]) -> None:
        current = _get(self.cluster, plural, self.namespace, name)
        if current is None:
            _create(self.cluster, plural, self.namespace, body)
            return
        if all(current.get(f) == body.get(f) for f in fields):
            return
        updated = copy.deepcopy(current)
        for f in fields:
            if f in body:
                updated[f] = body[f]
            else:
                updated.pop(f, None)
        self.cluster.store.update(plural, self.namespace, updated)

    def _write_status(self, deployment: dict[str, Any], replicas: int, ready: int) -> None:
        status = {
            "observedGeneration": (deployment.get("metadata") or {}).get("generation", 1),
            "replicas": ready, "updatedReplicas": ready, "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": "True" if ready >= min(1, replicas) else "False",
                 "reason": "MinimumReplicasAvailable" if ready >= min(1, replicas)
                 else "MinimumReplicasUnavailable",
                 "message": "Deployment has minimum availability." if ready >= min(1, replicas)
                 else "Deployment does not have minimum availability.",
                 "lastUpdateTime": _now(), "lastTransitionTime": _now()},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": f'ReplicaSet "{self.replicaset_name}" has successfully progressed.',
                 "lastUpdateTime": _now(), "lastTransitionTime": _now()},
            ],
        }
        if ready == 0:
            for key in ("readyReplicas", "availableReplicas", "replicas", "updatedReplicas"):
                status.pop(key)
        old = deployment.get("status") or {}
        same = all(old.get(k) == status.get(k) for k in (
            "replicas", "readyReplicas", "availableReplicas", "observedGeneration"))
        try:
            if not (same and old.get("conditions")):
                updated = copy.deepcopy(deployment)
                updated["status"] = status
                self.cluster.store.update("deployments", self.namespace, updated,
                                          subresource="status")
            self._write_replicaset(replicas, ready)
        except ApiError as exc:
            if exc.status != 409:
                raise
            # someone wrote meanwhile; their change event brings us back here

    def _write_replicaset(self, replicas: int, ready: int) -> None:
        rs = _get(self.cluster, "replicasets", self.namespace, self.replicaset_name)
        if rs is None:
            return
        if (rs.get("spec") or {}).get("replicas") != replicas:
            rs["spec"]["replicas"] = replicas
            rs = self.cluster.store.update("replicasets", self.namespace, rs)
        status = {"replicas": ready, "fullyLabeledReplicas": ready, "readyReplicas": ready,
                  "availableReplicas": ready,
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        if ready == 0:
            status = {"replicas": 0, "observedGeneration": status["observedGeneration"]}
        if rs.get("status") != status:
            rs["status"] = status
            self.cluster.store.update("replicasets", self.namespace, rs, subresource="status")


def _owner(api_version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"].get("uid", ""), "controller": True,
            "blockOwnerDeletion": True}


def _ensure_admission(cluster: "KubeCluster") -> None:
    if not getattr(cluster, "_wi_admission_installed", False):
        cluster.add_admission_hook(WorkloadIdentityAdmission(cluster))
        cluster._wi_admission_installed = True  # type: ignore[attr-defined]


def _install(cluster: "KubeCluster", namespace: str, tenant_id: str, layout: str,
             managed_by_aks: bool) -> WebhookInstallation:
    _ensure_admission(cluster)
    installation = WebhookInstallation(cluster, namespace, tenant_id, layout, managed_by_aks)
    cluster.store.subscribe(installation.on_event)
    installations = getattr(cluster, "wi_webhooks", None)
    if installations is None:
        installations = cluster.wi_webhooks = []  # type: ignore[attr-defined]
    installations.append(installation)
    return installation.install()


def install_workload_identity_addon(cluster: "KubeCluster", tenant_id: str,
                                    layout: str = "v1.6") -> WebhookInstallation:
    """What ``az aks update --enable-workload-identity`` puts in kube-system."""
    return _install(cluster, ADDON_NAMESPACE, tenant_id, layout, managed_by_aks=True)


def install_helm_webhook(cluster: "KubeCluster", tenant_id: str,
                         layout: str = "v1.6") -> WebhookInstallation:
    """The Helm chart in azure-workload-identity-system (a second copy on an add-on cluster)."""
    return _install(cluster, HELM_NAMESPACE, tenant_id, layout, managed_by_aks=False)
