"""One lab Kubernetes cluster: a store, an HTTPS API server, and the objects a new AKS cluster
has (system namespaces, one Ready node, the ``default`` ServiceAccounts, ``kube-root-ca.crt``).

    with Lab() as lab:
        cluster = KubeCluster(lab)
        cluster.write_kubeconfig(tmp / "config")
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import yaml

from ..http import LabServer, Request, Response
from . import admission
from .apiserver import ApiServer
from .controllers import install_controllers
from .crds import install_crds
from .scale import install_scale
from .store import AdmissionHook, ApiError, KubeStore, now_rfc3339

if TYPE_CHECKING:
    from ..runtime import Lab

# (verb, resource[/subresource], namespace or "") -> allowed?
Authorizer = Callable[[str, str, str], bool]
SubresourceHandler = Callable[[Request, str, str], Response]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NODE_NAME = "aks-nodepool1-00000000-vmss000000"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"


@dataclass
class TokenIdentity:
    user: str
    groups: list[str]
    allow: Authorizer | None = None  # None: every verb on everything


class KubeCluster:
    def __init__(self, lab: "Lab", name: str = "lab-cluster", controllers: bool = True) -> None:
        """``controllers=False``: no workload controllers or garbage collector (Deployments
        then never get pods, as on a cluster whose controller manager is down)."""
        self.name = name
        self.lab = lab
        self.store = KubeStore()
        self.admin_token = "lab-admin-" + secrets.token_urlsafe(24)
        self.tokens: dict[str, TokenIdentity] = {
            self.admin_token: TokenIdentity("lab-admin", ["system:masters",
                                                          "system:authenticated"]),
        }
        self.api = ApiServer(self)
        self.server = lab.add_server(LabServer(f"kube-{name}", self.api.router, lab.ca,
                                               request_log=lab.request_log))
        self.url = self.server.url
        self.store.builtin_admission.append(admission.service_account_plugin)
        self.store.subscribe(self._namespace_controller)
        install_crds(self)
        install_scale(self)
        self.controllers = install_controllers(self) if controllers else None
        self._seed()

    # -- client configuration -------------------------------------------------------------------
    def kubeconfig(self, user: str = "clusterUser", token: str | None = None) -> str:
        ca = base64.b64encode(self.lab.ca.cert_pem).decode()
        user_name = f"{user}_{self.name}" if user == "clusterUser" else user
        config: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.name, "cluster": {
                "certificate-authority-data": ca, "server": self.url}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name,
                                                         "user": user_name}}],
            "current-context": self.name,
            "preferences": {},
            "users": [{"name": user_name, "user": {"token": token or self.admin_token}}],
        }
        return yaml.safe_dump(config, sort_keys=False)

    def write_kubeconfig(self, path: str | Path, user: str = "clusterUser",
                         token: str | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.kubeconfig(user, token))
        path.chmod(0o600)
        return path

    # -- extension points (used by sa_tokens, webhook, kubelet) ---------------------------------
    def add_admission_hook(self, hook: AdmissionHook) -> None:
        self.store.add_admission_hook(hook)

    def register_subresource(self, plural: str, sub: str, method: str,
                             handler: SubresourceHandler) -> None:
        self.api.register_subresource(plural, sub, method, handler)

    def add_route(self, method: str, pattern: str, handler: Callable[[Request], Response]
                  ) -> None:
        """A non-resource path served without authentication (discovery documents)."""
        self.api.add_public_route(method, pattern, handler)

    def add_token(self, token: str, user: str, groups: list[str] | None = None,
                  allow: Authorizer | None = None) -> None:
        self.tokens[token] = TokenIdentity(user, list(groups or []) + ["system:authenticated"],
                                           allow)

    # -- seeding --------------------------------------------------------------------------------
    def _seed(self) -> None:
        for ns in SYSTEM_NAMESPACES:
            self.store.create("namespaces", None, {"metadata": {"name": ns}})
        self.store.create("nodes", None, _node(NODE_NAME))

    def _namespace_controller(self, event: str, plural: str, obj: dict[str, Any]) -> None:
        """What the ServiceAccount and root-CA-publisher controllers do for a new namespace."""
        if plural != "namespaces" or event != "ADDED":
            return
        ns = obj["metadata"]["name"]
        for kind_plural, body in (
            ("serviceaccounts", {"metadata": {"name": "default"}}),
            ("configmaps", {"metadata": {"name": ROOT_CA_CONFIGMAP, "annotations": {
                "kubernetes.io/description": "Contains a CA bundle that can be used to verify "
                                            "the kube-apiserver when using internal endpoints "
                                            "such as the internal service IP or "
                                            "kubernetes.default.svc. No other usage is "
                                            "guaranteed across distributions of Kubernetes "
                                            "clusters."}},
                            "data": {"ca.crt": self.lab.ca.cert_pem.decode()}}),
        ):
            try:
                self.store.create(kind_plural, ns, body, user="system:serviceaccount:kube-system:"
                                                           "service-account-controller")
            except ApiError as err:
                if err.status != 409:
                    raise


def _node(name: str) -> dict[str, Any]:
    now = now_rfc3339()
    labels = {
        "agentpool": "nodepool1",
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": "Standard_DS2_v2",
        "beta.kubernetes.io/os": "linux",
        "failure-domain.beta.kubernetes.io/region": "eastus",
        "failure-domain.beta.kubernetes.io/zone": "0",
        "kubernetes.azure.com/agentpool": "nodepool1",
        "kubernetes.azure.com/cluster": "MC_lab-rg_lab-cluster_eastus",
        "kubernetes.azure.com/mode": "system",
        "kubernetes.azure.com/node-image-version": "AKSUbuntu-2204gen2containerd-202507.21.0",
        "kubernetes.azure.com/os-sku": "Ubuntu",
        "kubernetes.azure.com/role": "agent",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/role": "agent",
        "node-role.kubernetes.io/agent": "",
        "node.kubernetes.io/instance-type": "Standard_DS2_v2",
        "topology.kubernetes.io/region": "eastus",
        "topology.kubernetes.io/zone": "0",
    }
    conditions = [
        {"type": t, "status": "False", "reason": r, "message": m,
         "lastHeartbeatTime": now, "lastTransitionTime": now}
        for t, r, m in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory "
                                                             "available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        )
    ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady",
          "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
          "lastTransitionTime": now}]
    return {
        "metadata": {"name": name, "labels": labels, "annotations": {
            "node.alpha.kubernetes.io/ttl": "0",
            "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
                 "providerID": "azure:///subscriptions/00000000-0000-0000-0000-000000000000/"
                               "resourceGroups/mc_lab-rg_lab-cluster_eastus/providers/"
                               "Microsoft.Compute/virtualMachineScaleSets/"
                               "aks-nodepool1-00000000-vmss/virtualMachines/0"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.224.0.4"},
                          {"type": "Hostname", "address": name}],
            "allocatable": {"cpu": "1900m", "ephemeral-storage": "119703055367",
                            "memory": "4670040Ki", "pods": "110"},
            "capacity": {"cpu": "2", "ephemeral-storage": "129886128Ki",
                         "memory": "7097688Ki", "pods": "110"},
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"architecture": "amd64", "bootID": "00000000-0000-0000-0000-000000000001",
                         "containerRuntimeVersion": "containerd://1.7.27-1",
                         "kernelVersion": "5.15.0-1089-azure",
                         "kubeProxyVersion": "v1.33.2", "kubeletVersion": "v1.33.2",
                         "machineID": "0" * 32, "operatingSystem": "linux",
                         "osImage": "Ubuntu 22.04.5 LTS", "systemUUID": "0" * 32},
        },
    }
