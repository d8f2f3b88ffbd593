"""Microsoft.ContainerService managed clusters: list, get and ``listClusterUserCredential``.

A cluster's body is derived from the few fields the lab keeps (issuer, workload identity, the
kubeconfig of the lab's API server when one is attached); the rest is fixed values in AKS's shape.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from ..azure_state import ManagedCluster
from ..http import Response, json_response
from .frontdoor import RG, SUB, AddRoute, Arm, Call, not_found
from .paging import list_resources

CS = "Microsoft.ContainerService/managedClusters"
_CS = r"/providers/Microsoft\.ContainerService/managedClusters"


def stable_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(p.lower() for p in parts)))


class Clusters:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.state = arm.state

    def routes(self, add: AddRoute) -> None:
        add("GET", SUB + _CS, "containerservice", self.list_clusters)
        add("GET", RG + _CS, "containerservice", self.list_clusters)
        add("GET", RG + _CS + r"/(?P<name>[^/]+)", "containerservice", self.get_cluster)
        add("POST", RG + _CS + r"/(?P<name>[^/]+)/listClusterUserCredential", "containerservice",
            self.list_user_credential)

    def body(self, c: ManagedCluster) -> dict[str, Any]:
        sub = self.state.subscriptions.get(c.subscription_id.lower())
        tenant = sub.tenant_id if sub else ""
        dns_prefix = c.dns_prefix or f"{c.name[:30]}-{c.resource_group[:14]}-{c.subscription_id[:6]}"
        suffix = hashlib.sha256(c.id.lower().encode()).hexdigest()[:8]
        fqdn = c.fqdn or f"{dns_prefix}-{suffix}.hcp.{c.location}.azmk8s.io"
        node_rg = f"MC_{c.resource_group}_{c.name}_{c.location}"
        version = c.kubernetes_version
        kubelet = c.kubelet_identity or {
            "resourceId": (f"/subscriptions/{c.subscription_id}/resourcegroups/{node_rg}/providers/"
                           f"Microsoft.ManagedIdentity/userAssignedIdentities/{c.name}-agentpool"),
            "clientId": stable_guid(c.id, "kubelet-client"),
            "objectId": stable_guid(c.id, "kubelet-object"),
        }
        oidc: dict[str, Any] = {"enabled": bool(c.oidc_issuer_enabled)}
        if c.oidc_issuer_enabled and c.issuer_url:
            oidc["issuerURL"] = c.issuer_url
        ip_prefix = f"/subscriptions/{c.subscription_id}/resourceGroups/{node_rg}/providers/Microsoft.Network"
        return {
            "id": c.id,
            "name": c.name,
            "type": CS,
            "location": c.location,
            "tags": dict(c.tags),
            "eTag": suffix,
            "sku": {"name": "Base", "tier": "Free"},
            "kind": "Base",
            "identity": {"type": "SystemAssigned",
                         "principalId": stable_guid(c.id, "principal"), "tenantId": tenant},
            "properties": {
                "provisioningState": "Succeeded",
                "powerState": {"code": "Running"},
                "kubernetesVersion": version,
                "currentKubernetesVersion": version,
                "dnsPrefix": dns_prefix,
                "fqdn": fqdn,
                "azurePortalFQDN": fqdn.replace(".hcp.", ".portal.hcp.", 1),
                "agentPoolProfiles": [{
                    "name": "nodepool1", "count": 1, "vmSize": "Standard_D2s_v5",
                    "osDiskSizeGB": 128, "osDiskType": "Managed", "kubeletDiskType": "OS",
                    "maxPods": 250, "type": "VirtualMachineScaleSets", "availabilityZones": ["1"],
                    "enableAutoScaling": False, "provisioningState": "Succeeded",
                    "powerState": {"code": "Running"}, "orchestratorVersion": version,
                    "currentOrchestratorVersion": version, "mode": "System", "osType": "Linux",
                    "osSKU": "Ubuntu", "nodeImageVersion": "AKSUbuntu-2204gen2containerd-202510.01.0",
                    "upgradeSettings": {"maxSurge": "10%"}, "eTag": suffix,
                    "enableFIPS": False,
                }],
                "linuxProfile": {"adminUsername": "azureuser",
                                 "ssh": {"publicKeys": [{"keyData": "ssh-rsa AAAAB3NzaC1yc2E lab"}]}},
                "servicePrincipalProfile": {"clientId": "msi"},
                "nodeResourceGroup": node_rg,
                "enableRBAC": True,
                "supportPlan": "KubernetesOfficial",
                "maxAgentPools": 100,
                "disableLocalAccounts": False,
                "networkProfile": {
                    "networkPlugin": "azure", "networkPluginMode": "overlay",
                    "networkPolicy": "none", "networkDataplane": "azure",
                    "loadBalancerSku": "standard", "outboundType": "loadBalancer",
                    "loadBalancerProfile": {
                        "managedOutboundIPs": {"count": 1},
                        "effectiveOutboundIPs": [{"id": f"{ip_prefix}/publicIPAddresses/{suffix}"}],
                        "allocatedOutboundPorts": 0, "idleTimeoutInMinutes": 30,
                        "backendPoolType": "nodeIPConfiguration",
                    },
                    "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16",
                    "dnsServiceIP": "10.0.0.10", "podCidrs": ["10.244.0.0/16"],
                    "serviceCidrs": ["10.0.0.0/16"], "ipFamilies": ["IPv4"],
                },
                "oidcIssuerProfile": oidc,
                "securityProfile": {"workloadIdentity": {"enabled": bool(c.workload_identity_enabled)}},
                "identityProfile": {"kubeletidentity": kubelet},
                "resourceUID": hashlib.sha256(c.id.lower().encode()).hexdigest()[:24],
                **({"podIdentityProfile": _pod_identity(c.pod_identity_profile)}
                   if c.pod_identity_profile is not None else {}),
            },
        }

    def list_clusters(self, call: Call) -> Response:
        return list_resources(self.arm, call, CS, self.state.clusters.values(), self.body)

    def _cluster(self, call: Call, action: str) -> ManagedCluster:
        p = call.req.params
        rid = (f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}/providers/{CS}/{p['name']}")
        self.arm.authorize(call, action, rid)
        self.arm.require_rg(p["sub"], p["rg"])
        cluster = self.state.cluster(p["sub"], p["rg"], p["name"])
        if cluster is None:
            raise not_found(CS, p["name"], p["rg"])
        return cluster

    def get_cluster(self, call: Call) -> Response:
        with self.state.lock:
            return json_response(200, self.body(self._cluster(call, f"{CS}/read")))

    def list_user_credential(self, call: Call) -> Response:
        with self.state.lock:
            cluster = self._cluster(call, f"{CS}/listClusterUserCredential/action")
            body = self.body(cluster)
        yaml_text = cluster.kubeconfig() if cluster.kubeconfig else _placeholder_kubeconfig(
            cluster, body["properties"]["fqdn"])
        value = base64.b64encode(yaml_text.encode()).decode()
        return json_response(200, {"kubeconfigs": [{"name": "clusterUser", "value": value}]})


def _pod_identity(profile: dict[str, Any]) -> dict[str, Any]:
    """ManagedClusterPodIdentityProfile as AKS returns it: each pod identity with its
    provisioningState (Assigned once the add-on has created it) and, unless given, a binding
    selector equal to its name (az aks pod-identity add --binding-selector)."""
    out = {"enabled": True, "allowNetworkPluginKubenet": False, **profile}
    out["userAssignedIdentities"] = [
        {"bindingSelector": p.get("name"), "provisioningState": "Assigned", **p}
        for p in profile.get("userAssignedIdentities") or []]
    out.setdefault("userAssignedIdentityExceptions", [])
    return out


def _placeholder_kubeconfig(c: ManagedCluster, fqdn: str) -> str:
    user = f"clusterUser_{c.resource_group}_{c.name}"
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- cluster:\n    server: https://{fqdn}:443\n  name: {c.name}\n"
        f"contexts:\n- context:\n    cluster: {c.name}\n    user: {user}\n  name: {c.name}\n"
        f"current-context: {c.name}\npreferences: {{}}\n"
        f"users:\n- name: {user}\n  user: {{}}\n"
    )
