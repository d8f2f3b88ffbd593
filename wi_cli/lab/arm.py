"""The Azure Resource Manager emulator: AKS, managed identities + FICs, RBAC, subscriptions.

Every call goes through the same front door as real ARM: bearer token (audience, expiry,
tenant of the subscription), ``api-version`` per resource type, then RBAC on the action the
method and resource type imply (reads too), then the resource provider's own validation.
Errors use ARM's envelope ``{"error": {"code", "message"}}``; lists page with an absolute
``nextLink`` carrying ``$skiptoken``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, urlencode, urlsplit

from . import rbac
from .azure_state import FederatedCredential, ManagedCluster, RoleAssignment, UserAssignedIdentity
from .http import Request, Response, Router, json_response
from .tokens import TokenError, verify_access_token

if TYPE_CHECKING:
    from .runtime import Lab

# api-versions accepted per resource family: those in NOTES.md plus what the installed SDKs send
API_VERSIONS: dict[str, tuple[str, ...]] = {
    "containerservice": ("2024-09-01", "2025-01-01", "2025-05-01", "2025-07-01", "2025-10-01",
                         "2026-01-01", "2026-08-01"),
    "msi": ("2018-11-30", "2021-09-30-preview", "2022-01-31-preview", "2023-01-31",
            "2024-11-30", "2025-01-31-preview"),
    "authorization": ("2015-07-01", "2018-01-01-preview", "2018-07-01", "2020-04-01-preview",
                      "2020-10-01-preview", "2022-04-01", "2022-05-01-preview"),
    "subscriptions": ("2016-06-01", "2019-11-01", "2020-01-01", "2021-01-01", "2022-12-01"),
    "keyvault": ("2019-09-01", "2021-10-01", "2022-07-01", "2023-02-01", "2023-07-01",
                 "2024-11-01"),
    "storage": ("2021-09-01", "2022-09-01", "2023-01-01", "2023-05-01", "2024-01-01",
                "2025-01-01"),
    "resources": ("2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01", "2024-07-01"),
}
METADATA_OBJECT_SINCE = "2022-09-01"  # older api-versions answer the list form
METADATA_VERSIONS = ("2015-01-01", "2018-01-01", "2019-05-01", "2020-06-01", "2022-09-01")
FIC_UNSUPPORTED_REGIONS = frozenset({"malaysiasouth", "newzealandnorth"})
FIC_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}\Z")
FIC_MAX_PER_IDENTITY = 20
FIC_FIELD_MAX = 600
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
ARM_AUDIENCES_EXTRA = ["https://management.core.windows.net/"]

CS = "Microsoft.ContainerService/managedClusters"
UAMI = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIC = UAMI + "/federatedIdentityCredentials"
RA = "Microsoft.Authorization/roleAssignments"
RD = "Microsoft.Authorization/roleDefinitions"
PERMS = "Microsoft.Authorization/permissions"
KV = "Microsoft.KeyVault/vaults"
ST = "Microsoft.Storage/storageAccounts"

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
_CS = r"/providers/Microsoft\.ContainerService/managedClusters"
_MI = r"/providers/Microsoft\.ManagedIdentity/userAssignedIdentities"
_AUTHZ = r"(?P<scope>(?:/[^/]+)*?)/providers/Microsoft\.Authorization"
_KV = r"/providers/Microsoft\.KeyVault/vaults"
_ST = r"/providers/Microsoft\.Storage/storageAccounts"



class _ArmRouter(Router):
    """ARM ignores empty path segments (the SDK sends ``Microsoft.X//type`` for an empty parent
    resource path), so routes see the path with repeated slashes collapsed."""

    def dispatch(self, req: Request) -> Response:
        req.path = re.sub(r"/{2,}", "/", req.path)
        return super().dispatch(req)


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> Response:
        return json_response(self.status, {"error": {"code": self.code, "message": self.message}},
                             self.headers)


@dataclass
class Call:
    """An authenticated request: who is calling and with which api-version."""

    req: Request
    oid: str
    tid: str
    appid: str
    api_version: str


def by_method(call: Call, **handlers: Callable[[Call], Response]) -> Response:
    """Dispatch one resource URL by HTTP method, with ARM's 405 for the others."""
    handler = handlers.get(call.req.method)
    if handler is None:
        raise ArmError(405, "MethodNotAllowed", "The requested resource does not support http "
                       f"method '{call.req.method}'.")
    return handler(call)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def stable_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(p.lower() for p in parts)))


def sub_of_scope(scope: str) -> str | None:
    segments = [s for s in scope.split("/") if s]
    if len(segments) >= 2 and segments[0].lower() == "subscriptions":
        return segments[1]
    return None


def rg_of_scope(scope: str) -> str | None:
    segments = [s for s in scope.split("/") if s]
    if len(segments) >= 4 and segments[2].lower() == "resourcegroups":
        return segments[3]
    return None


def msi_id(resource_id: str) -> str:
    """The MSI resource provider echoes ids with a lower-case ``resourcegroups``."""
    return re.sub(r"/resourceGroups/", "/resourcegroups/", resource_id, flags=re.IGNORECASE)


class Arm:
    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.state = lab.azure
        self._fic_writes: dict[str, float] = {}  # identity id lower -> write window end
        self._fic_lock = threading.Lock()
        self._fic_system: dict[str, dict[str, str]] = {}  # FIC id lower -> systemData

    # ----------------------------------------------------------------------------- front door
    def router(self) -> Router:
        r = _ArmRouter(ignore_case=True)
        r.not_found = lambda req: ArmError(
            404, "InvalidResourceType",
            f"The resource type could not be found for the path '{req.path}' in the lab's "
            "Azure Resource Manager.").response()
        r.method_not_allowed = lambda req: ArmError(
            405, "MethodNotAllowed",
            f"The requested resource does not support http method '{req.method}'.").response()
        r.add("GET", r"/metadata/endpoints", self.metadata)
        add = self._add_op(r)
        add("GET", r"/subscriptions", "subscriptions", self.list_subscriptions)
        add("GET", _SUB, "subscriptions", self.get_subscription)
        from .arm_providers import Providers  # resource providers and locations

        Providers(self).routes(add)
        # Microsoft.Authorization first: its scopes may be any resource id
        add("GET", _AUTHZ + r"/roleAssignments", "authorization", self.list_role_assignments)
        add("*", _AUTHZ + r"/roleAssignments/(?P<name>[^/]+)", "authorization",
            self.role_assignment)
        add("GET", _AUTHZ + r"/roleDefinitions", "authorization", self.list_role_definitions)
        add("GET", _AUTHZ + r"/roleDefinitions/(?P<name>[^/]+)", "authorization",
            self.get_role_definition)
        add("GET", _AUTHZ + r"/permissions", "authorization", self.list_permissions)
        # Microsoft.ContainerService
        add("GET", _SUB + _CS, "containerservice", self.list_clusters)
        add("GET", _RG + _CS, "containerservice", self.list_clusters)
        add("GET", _RG + _CS + r"/(?P<name>[^/]+)", "containerservice", self.get_cluster)
        add("POST", _RG + _CS + r"/(?P<name>[^/]+)/listClusterUserCredential", "containerservice",
            self.list_user_credential)
        # Microsoft.ManagedIdentity
        add("GET", _SUB + _MI, "msi", self.list_identities)
        add("GET", _RG + _MI, "msi", self.list_identities)
        add("GET", _RG + _MI + r"/(?P<name>[^/]+)", "msi", self.get_identity)
        add("PUT", _RG + _MI + r"/(?P<name>[^/]+)", "msi", self.put_identity)
        add("GET", _RG + _MI + r"/(?P<name>[^/]+)/federatedIdentityCredentials", "msi",
            self.list_fics)
        add("*", _RG + _MI + r"/(?P<name>[^/]+)/federatedIdentityCredentials/(?P<fic>[^/]+)",
            "msi", self.fic)
        # Key Vault and Storage: just enough to find a data plane (wi probe's checks)
        add("GET", _SUB + _KV, "keyvault", self.list_vaults)
        add("GET", _RG + _KV, "keyvault", self.list_vaults)
        add("GET", _RG + _KV + r"/(?P<name>[^/]+)", "keyvault", self.get_vault)
        add("GET", _SUB + _ST, "storage", self.list_storage_accounts)
        add("GET", _RG + _ST, "storage", self.list_storage_accounts)
        add("GET", _RG + _ST + r"/(?P<name>[^/]+)", "storage", self.get_storage_account)
        return r

    def _add_op(self, router: Router) -> Callable[[str, str, str, Callable[[Call], Response]],
                                                  None]:
        def add(method: str, pattern: str, family: str, handler: Callable[[Call], Response]) -> None:
            router.add(method, pattern, lambda req: self._serve(req, family, handler))
        return add

    def _serve(self, req: Request, family: str, handler: Callable[[Call], Response]) -> Response:
        try:
            call = self._authenticate(req, family)
            resp = handler(call)
        except ArmError as err:
            resp = err.response()
        resp.headers.setdefault("x-ms-correlation-request-id",
                                req.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4()))
        if req.method == "GET":
            resp.headers.setdefault("x-ms-ratelimit-remaining-subscription-reads", "11999")
        else:
            resp.headers.setdefault("x-ms-ratelimit-remaining-subscription-writes", "1199")
        return resp

    def _authenticate(self, req: Request, family: str) -> Call:
        sub_id = req.params.get("sub") or sub_of_scope(req.params.get("scope", ""))
        sub = self.state.subscriptions.get(sub_id.lower()) if sub_id else None
        try:
            claims = verify_access_token(self.lab, req.bearer,
                                         [self.lab.arm_audience, *ARM_AUDIENCES_EXTRA])
        except TokenError as err:
            raise self._unauthorized(err.code, err.message, sub.tenant_id if sub else None) from None
        api_version = self._api_version(req, family)
        if sub_id and sub is None:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found.")
        tid = str(claims.get("tid", ""))
        if sub is not None and tid.lower() != sub.tenant_id.lower():
            raise self._unauthorized(
                "InvalidAuthenticationTokenTenant",
                f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the "
                f"tenant 'https://sts.windows.net/{sub.tenant_id}/' associated with this "
                f"subscription. Please use the authority (URL) "
                f"'{self.lab.authority_host}{sub.tenant_id}' to get the token. Note, if the "
                "subscription is transferred to another tenant there is no impact to the services, "
                "but information about new tenant could take time to propagate (up to an hour). If "
                "you just transferred your subscription and see this error message, please try "
                "back later.", sub.tenant_id)
        return Call(req, str(claims.get("oid", "")), tid, str(claims.get("appid", "")), api_version)

    def _unauthorized(self, code: str, message: str, tenant: str | None) -> ArmError:
        description = message.replace('"', "'")
        header = (f'Bearer authorization_uri="{self.lab.authority_host}{tenant or "common"}", '
                  f'error="invalid_token", error_description="{description}"')
        return ArmError(401, code, message, {"WWW-Authenticate": header})

    @staticmethod
    def _api_version(req: Request, family: str) -> str:
        version = req.arg("api-version")
        if not version:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all "
                           "requests.")
        supported = API_VERSIONS[family]
        if version not in supported:
            listed = ",".join(sorted(supported, reverse=True))
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{version}' is invalid. The supported versions are "
                           f"'{listed}'.")
        return version

    def _authorize(self, call: Call, action: str, scope: str, data: bool = False) -> None:
        if not rbac.allowed_in_state(self.state, call.oid, action, scope, data):
            raise ArmError(
                403, "AuthorizationFailed",
                f"The client '{call.oid}' with object id '{call.oid}' does not have authorization "
                f"to perform action '{action}' over scope '{scope}' or the scope is invalid. If "
                "access was recently granted, please refresh your credentials.")

    def _can(self, call: Call, action: str, scope: str) -> bool:
        return rbac.allowed_in_state(self.state, call.oid, action, scope)

    def _require_rg(self, sub: str, rg: str) -> None:
        if self.state.get_resource_group(sub, rg) is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")

    @staticmethod
    def _not_found(rtype: str, name: str, rg: str) -> ArmError:
        return ArmError(404, "ResourceNotFound",
                        f"The Resource '{rtype}/{name}' under resource group '{rg}' was not found. "
                        "For more details please go to https://aka.ms/ARMResourceNotFoundFix")

    # ----------------------------------------------------------------------------- paging
    def _page(self, call: Call, items: list[dict[str, Any]], token_name: str = "$skiptoken",
              page_size: int | None = None) -> Response:
        size = max(1, page_size or int(self.state.page_size))
        start = self._decode_skiptoken(call.req.arg_ci(token_name))
        body: dict[str, Any] = {"value": items[start:start + size]}
        if start + size < len(items):
            body["nextLink"] = self._next_link(call.req, token_name, start + size)
        return json_response(200, body)

    @staticmethod
    def _decode_skiptoken(token: str | None) -> int:
        if not token:
            return 0
        try:
            return max(0, int(base64.urlsafe_b64decode(token.encode() + b"==").decode()[2:]))
        except (ValueError, UnicodeDecodeError):
            raise ArmError(400, "InvalidSkipToken",
                           f"The skip token '{token}' is invalid.") from None

    @staticmethod
    def _next_link(req: Request, token_name: str, offset: int) -> str:
        token = base64.urlsafe_b64encode(f"o:{offset}".encode()).rstrip(b"=").decode()
        params = [(k, v) for k, values in req.query.items() for v in values
                  if k.lower() != token_name.lower()]
        params.append((token_name, token))
        path = urlsplit(req.raw_path).path
        return f"{req.server_url}{path}?{urlencode(params, quote_via=quote, safe='$')}"

    # ----------------------------------------------------------------------------- metadata
    def metadata(self, req: Request) -> Response:
        version = req.arg("api-version")
        if not version:
            return ArmError(400, "MissingApiVersionParameter",
                            "The api-version query parameter (?api-version=) is required for all "
                            "requests.").response()
        if version not in METADATA_VERSIONS:
            listed = ",".join(sorted(METADATA_VERSIONS, reverse=True))
            return ArmError(400, "InvalidApiVersionParameter",
                            f"The api-version '{version}' is invalid. The supported versions are "
                            f"'{listed}'.").response()
        cloud = self.cloud_metadata()
        if version >= METADATA_OBJECT_SINCE:
            return json_response(200, cloud)
        cloud["gallery"] = "https://gallery.azure.com/"
        return json_response(200, [cloud])

    def cloud_metadata(self) -> dict[str, Any]:
        arm = self.lab.arm_endpoint
        return {
            "activeDirectoryDataLake": "https://datalake.lab.local/",
            "appInsightsResourceId": "https://api.applicationinsights.lab.local",
            "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.lab.local/v2/track",
            "attestationResourceId": "https://attest.lab.local",
            "authentication": {
                "audiences": [self.lab.arm_audience],
                "identityProvider": "AAD",
                "loginEndpoint": self.lab.authority_host,
                "tenant": "common",
            },
            "batch": "https://batch.lab.local/",
            "graph": "https://graph.lab.local/",
            "graphAudience": "https://graph.lab.local/",
            "logAnalyticsResourceId": "https://api.loganalytics.lab.local",
            "media": "https://rest.media.lab.local",
            "microsoftGraphResourceId": "https://graph.microsoft.lab.local/",
            "name": "WiLab",
            "ossrDbmsResourceId": "https://ossrdbms-aad.database.lab.local",
            "portal": "https://portal.lab.local",
            "resourceManager": arm,
            "sqlManagement": "https://management.core.lab.local:8443/",
            "suffixes": {
                "acrLoginServer": "azurecr.lab.local",
                "attestationEndpoint": "attest.lab.local",
                "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.lab.local",
                "azureDataLakeStoreFileSystem": "azuredatalakestore.lab.local",
                "azureFrontDoorEndpointSuffix": "azurefd.lab.local",
                "keyVaultDns": "vault.lab.local",
                "mariadbServerEndpoint": "mariadb.database.lab.local",
                "mhsmDns": "managedhsm.lab.local",
                "mysqlServerEndpoint": "mysql.database.lab.local",
                "postgresqlServerEndpoint": "postgres.database.lab.local",
                "sqlServerHostname": "database.lab.local",
                "storage": "core.lab.local",
                "storageSyncEndpointSuffix": "afs.lab.local",
                "synapseAnalytics": "dev.azuresynapse.lab.local",
            },
            "synapseAnalyticsResourceId": "https://dev.azuresynapse.lab.local",
            "vmImageAliasDoc": f"{arm}metadata/vmImageAliasDoc",
        }

    # ----------------------------------------------------------------------------- subscriptions
    def subscription_body(self, sub_id: str) -> dict[str, Any]:
        sub = self.state.subscriptions[sub_id.lower()]
        return {
            "id": sub.id,
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": sub.subscription_id,
            "tenantId": sub.tenant_id,
            "displayName": sub.display_name,
            "state": sub.state,
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                     "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
            "tags": {},
        }

    def list_subscriptions(self, call: Call) -> Response:
        with self.state.lock:
            subs = [s for s in self.state.subscriptions.values()
                    if s.tenant_id.lower() == call.tid.lower()
                    and rbac.has_any_assignment_under(self.state, call.oid, s.id)]
            items = [self.subscription_body(s.subscription_id) for s in subs]
        return self._page(call, items)

    def get_subscription(self, call: Call) -> Response:
        sub_id = call.req.params["sub"]
        with self.state.lock:
            sub = self.state.subscriptions[sub_id.lower()]
            if not rbac.has_any_assignment_under(self.state, call.oid, sub.id):
                self._authorize(call, "Microsoft.Resources/subscriptions/read", sub.id)
            return json_response(200, self.subscription_body(sub_id))

    # ----------------------------------------------------------------------------- AKS
    def cluster_body(self, c: ManagedCluster) -> dict[str, Any]:
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
            },
        }

    def list_clusters(self, call: Call) -> Response:
        return self._list_resources(call, CS, self.state.clusters.values(), self.cluster_body)

    def _list_resources(self, call: Call, rtype: str, resources: Any,
                        body: Callable[[Any], dict[str, Any]],
                        locate: Callable[[Any], tuple[str, str, str]] = lambda x: (
                            x.subscription_id, x.resource_group, x.id)) -> Response:
        """List by RG or subscription; a caller without read at the collection's scope sees only
        the resources it may read (ARM's filtered collection read), not a 403. ``resources`` is
        iterated under the state lock; ``locate`` gives (subscription, resource group, id)."""
        p = call.req.params
        sub, rg = p["sub"], p.get("rg")
        scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{rg}" if rg else "")
        action = f"{rtype}/read"
        with self.state.lock:
            if rg:
                self._authorize(call, action, scope)
                self._require_rg(sub, rg)
            whole = self._can(call, action, scope)
            items = [body(x) for x in resources
                     for x_sub, x_rg, x_id in [locate(x)]
                     if x_sub.lower() == sub.lower()
                     and (not rg or x_rg.lower() == rg.lower())
                     and (whole or self._can(call, action, x_id))]
        return self._page(call, items)

    def _cluster(self, call: Call, action: str) -> ManagedCluster:
        p = call.req.params
        rid = (f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}/providers/{CS}/{p['name']}")
        self._authorize(call, action, rid)
        self._require_rg(p["sub"], p["rg"])
        cluster = self.state.cluster(p["sub"], p["rg"], p["name"])
        if cluster is None:
            raise self._not_found(CS, p["name"], p["rg"])
        return cluster

    def get_cluster(self, call: Call) -> Response:
        with self.state.lock:
            return json_response(200, self.cluster_body(self._cluster(call, f"{CS}/read")))

    def list_user_credential(self, call: Call) -> Response:
        with self.state.lock:
            cluster = self._cluster(call, f"{CS}/listClusterUserCredential/action")
            body = self.cluster_body(cluster)
        yaml_text = cluster.kubeconfig() if cluster.kubeconfig else self._placeholder_kubeconfig(
            cluster, body["properties"]["fqdn"])
        value = base64.b64encode(yaml_text.encode()).decode()
        return json_response(200, {"kubeconfigs": [{"name": "clusterUser", "value": value}]})

    @staticmethod
    def _placeholder_kubeconfig(c: ManagedCluster, fqdn: str) -> str:
        user = f"clusterUser_{c.resource_group}_{c.name}"
        return (
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- cluster:\n    server: https://{fqdn}:443\n  name: {c.name}\n"
            f"contexts:\n- context:\n    cluster: {c.name}\n    user: {user}\n  name: {c.name}\n"
            f"current-context: {c.name}\npreferences: {{}}\n"
            f"users:\n- name: {user}\n  user: {{}}\n"
        )

    # ----------------------------------------------------------------------------- data planes
    def vault_body(self, vault: dict[str, Any]) -> dict[str, Any]:
        from .dataplane import vault_uri

        return {
            "id": vault["id"], "name": vault["name"], "type": KV, "location": vault["location"],
            "tags": {},
            "properties": {
                "sku": {"family": "A", "name": "standard"}, "tenantId": vault["tenant_id"],
                "accessPolicies": [], "enabledForDeployment": False,
                "enableRbacAuthorization": True, "enableSoftDelete": True,
                "softDeleteRetentionInDays": 90, "vaultUri": vault_uri(self.lab, vault["name"]),
                "provisioningState": "Succeeded", "publicNetworkAccess": "Enabled",
            },
        }

    def storage_body(self, account: dict[str, Any]) -> dict[str, Any]:
        from .dataplane import blob_endpoint

        return {
            "id": account["id"], "name": account["name"], "type": ST,
            "location": account["location"], "tags": {}, "kind": "StorageV2",
            "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "properties": {
                "provisioningState": "Succeeded", "accessTier": "Hot",
                "allowBlobPublicAccess": False, "allowSharedKeyAccess": False,
                "minimumTlsVersion": "TLS1_2", "supportsHttpsTrafficOnly": True,
                "primaryLocation": account["location"], "statusOfPrimary": "available",
                "creationTime": iso(account["created_at"]),
                "primaryEndpoints": {"blob": blob_endpoint(self.lab, account["name"])},
            },
        }

    def _generic_list(self, call: Call, rtype: str,
                      body: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        resources = (x for x in self.state.resources.values() if x["type"] == rtype)
        return self._list_resources(call, rtype, resources, body, locate=lambda x: (
            x["subscription_id"], x["resource_group"], x["id"]))

    def _generic_get(self, call: Call, rtype: str,
                     body: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        p = call.req.params
        rid = f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}/providers/{rtype}/{p['name']}"
        with self.state.lock:
            self._authorize(call, f"{rtype}/read", rid)
            self._require_rg(p["sub"], p["rg"])
            resource = self.state.resources.get(rid.lower())
            if resource is None:
                raise self._not_found(rtype, p["name"], p["rg"])
            return json_response(200, body(resource))

    def list_vaults(self, call: Call) -> Response:
        return self._generic_list(call, KV, self.vault_body)

    def get_vault(self, call: Call) -> Response:
        return self._generic_get(call, KV, self.vault_body)

    def list_storage_accounts(self, call: Call) -> Response:
        return self._generic_list(call, ST, self.storage_body)

    def get_storage_account(self, call: Call) -> Response:
        return self._generic_get(call, ST, self.storage_body)

    # ----------------------------------------------------------------------------- identities
    def identity_body(self, ident: UserAssignedIdentity) -> dict[str, Any]:
        return {
            "id": msi_id(ident.id),
            "name": ident.name,
            "type": UAMI,
            "location": ident.location,
            "tags": dict(ident.tags),
            "properties": {"tenantId": ident.tenant_id, "principalId": ident.principal_id,
                           "clientId": ident.client_id, "isolationScope": "None"},
            # ARM's common systemData (optional in real responses); wi reads the age from it
            "systemData": {"createdAt": iso(ident.created_at),
                           "lastModifiedAt": iso(ident.created_at)},
        }

    def list_identities(self, call: Call) -> Response:
        return self._list_resources(call, UAMI, self.state.identities.values(), self.identity_body)

    def _identity_id(self, call: Call) -> str:
        p = call.req.params
        return f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}/providers/{UAMI}/{p['name']}"

    def get_identity(self, call: Call) -> Response:
        p = call.req.params
        with self.state.lock:
            self._authorize(call, f"{UAMI}/read", self._identity_id(call))
            self._require_rg(p["sub"], p["rg"])
            ident = self.state.identity(p["sub"], p["rg"], p["name"])
            if ident is None:
                raise self._not_found(UAMI, p["name"], p["rg"])
            return json_response(200, self.identity_body(ident))

    def put_identity(self, call: Call) -> Response:
        p = call.req.params
        body = self._json_body(call)
        with self.state.lock:
            self._authorize(call, f"{UAMI}/write", self._identity_id(call))
            self._require_rg(p["sub"], p["rg"])
            location = body.get("location")
            if not isinstance(location, str) or not location:
                raise ArmError(400, "LocationRequired",
                               "The location property is required for this definition.")
            ident = self.state.identity(p["sub"], p["rg"], p["name"])
            created = ident is None
            if ident is None:
                ident = self.state.add_identity(p["sub"], p["rg"], p["name"],
                                                location.replace(" ", "").lower())
            if isinstance(body.get("tags"), dict):
                ident.tags = {str(k): str(v) for k, v in body["tags"].items()}
            return json_response(201 if created else 200, self.identity_body(ident))

    @staticmethod
    def _json_body(call: Call) -> dict[str, Any]:
        try:
            body = call.req.json()
        except ValueError:
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized.") from None
        return body if isinstance(body, dict) else {}

    # ----------------------------------------------------------------------------- FICs
    def fic_body(self, ident: UserAssignedIdentity, fic: FederatedCredential) -> dict[str, Any]:
        fid = f"{msi_id(ident.id)}/federatedIdentityCredentials/{fic.name}"
        system = self._fic_system.get(fid.lower()) or {
            "createdAt": iso(fic.created_at), "lastModifiedAt": iso(fic.created_at)}
        body = {
            "id": fid,
            "name": fic.name,
            "type": FIC,
            "properties": {"issuer": fic.issuer, "subject": fic.subject,
                           "audiences": list(fic.audiences)},
            "systemData": dict(system),
        }
        if not self.state.system_data:  # optional in real responses (the spec examples lack it)
            del body["systemData"]
        return body

    def _parent_identity(self, call: Call, action: str) -> UserAssignedIdentity:
        p = call.req.params
        scope = self._identity_id(call)
        if "fic" in p:
            scope += f"/federatedIdentityCredentials/{p['fic']}"
        self._authorize(call, action, scope)
        self._require_rg(p["sub"], p["rg"])
        ident = self.state.identity(p["sub"], p["rg"], p["name"])
        if ident is None:
            raise ArmError(404, "NotFound", "The parent user-assigned identity doesn't exist.")
        return ident

    def list_fics(self, call: Call) -> Response:
        top = call.req.arg_ci("$top")
        page_size = None
        if top is not None:
            if not top.isdigit() or int(top) < 1:
                raise ArmError(400, "BadRequest", f"The value '{top}' of $top is invalid.")
            page_size = int(top)
        with self.state.lock:
            ident = self._parent_identity(call, f"{FIC}/read")
            items = [self.fic_body(ident, f) for f in
                     sorted(ident.fics.values(), key=lambda f: f.name.lower())]
        return self._page(call, items, "$skiptoken", page_size)

    def fic(self, call: Call) -> Response:
        return by_method(call, GET=self._get_fic, PUT=self._put_fic, DELETE=self._delete_fic)

    def _get_fic(self, call: Call) -> Response:
        name = call.req.params["fic"]
        with self.state.lock:
            ident = self._parent_identity(call, f"{FIC}/read")
            fic = ident.fics.get(name.lower())
            if fic is None:
                raise ArmError(404, "NotFound",
                               f"Federated Identity Credential '{name}' was not found.")
            return json_response(200, self.fic_body(ident, fic))

    def _put_fic(self, call: Call) -> Response:
        name = call.req.params["fic"]
        with self.state.lock:
            ident = self._parent_identity(call, f"{FIC}/write")
        if ident.location.replace(" ", "").lower() in FIC_UNSUPPORTED_REGIONS:
            # the text of entra-docs workload-identity-federation-considerations.md (error table)
            raise ArmError(405, "MethodNotAllowed",
                           "The request format was unexpected: Support for federated identity "
                           "credentials not enabled.")
        with self._fic_write_window(ident):
            issuer, subject, audiences = self._validate_fic(name, self._json_body(call))
            with self.state.lock:
                return self._store_fic(call, ident, name, issuer, subject, audiences)

    def _validate_fic(self, name: str, body: dict[str, Any]) -> tuple[str, str, list[str]]:
        if not FIC_NAME.match(name):
            raise ArmError(400, "BadRequest", f"Federated Identity Credential name '{name}' is invalid.")
        props = body.get("properties")
        if not isinstance(props, dict) or not props:
            raise ArmError(400, "BadRequest",
                           "Federated Identity Credential from HTTP body has empty properties")
        issuer, subject, audiences = props.get("issuer"), props.get("subject"), props.get("audiences")
        if not isinstance(issuer, str) or not issuer:
            raise ArmError(400, "BadRequest", "Issuer is required for a federated identity credential.")
        if (len(issuer) > FIC_FIELD_MAX or not issuer.startswith("https://")
                or any(ch.isspace() for ch in issuer) or len(issuer) <= len("https://")):
            raise ArmError(400, "BadRequest",
                           f"Issuer '{issuer}' is invalid: it must be an HTTPS URL of at most "
                           f"{FIC_FIELD_MAX} characters without whitespace.")
        if not isinstance(subject, str) or not subject.strip():
            raise ArmError(400, "BadRequest", "Subject is required for a federated identity credential.")
        if len(subject) > FIC_FIELD_MAX:
            raise ArmError(400, "BadRequest",
                           f"Subject is invalid: it must be at most {FIC_FIELD_MAX} characters.")
        if (not isinstance(audiences, list) or len(audiences) != 1
                or not isinstance(audiences[0], str) or not audiences[0]):
            raise ArmError(400, "BadRequest",
                           "Federated identity credentials must have exactly one audience.")
        if len(audiences[0]) > FIC_FIELD_MAX:
            raise ArmError(400, "BadRequest",
                           f"Audience is invalid: it must be at most {FIC_FIELD_MAX} characters.")
        return issuer, subject, [audiences[0]]

    def _store_fic(self, call: Call, ident: UserAssignedIdentity, name: str, issuer: str,
                   subject: str, audiences: list[str]) -> Response:
        existing = ident.fics.get(name.lower())
        for other in ident.fics.values():
            if other is not existing and other.issuer == issuer and other.subject == subject:
                raise ArmError(400, "BadRequest",
                               "Issuer and subject combination already exists for this Managed "
                               "Identity.")
        if existing is None and len(ident.fics) >= FIC_MAX_PER_IDENTITY:
            raise ArmError(400, "BadRequest",
                           f"A maximum of {FIC_MAX_PER_IDENTITY} federated identity credentials can "
                           "be added to a user-assigned managed identity.")
        now = time.time()
        fid = f"{msi_id(ident.id)}/federatedIdentityCredentials/{name}".lower()
        if existing is None:
            fic = self.state.add_fic(ident, name, issuer, subject, audiences)
            self._fic_system[fid] = {
                "createdBy": call.appid, "createdByType": "Application", "createdAt": iso(now),
                "lastModifiedBy": call.appid, "lastModifiedByType": "Application",
                "lastModifiedAt": iso(now)}
            return json_response(201, self.fic_body(ident, fic))
        if (existing.issuer, existing.subject, existing.audiences) != (issuer, subject, audiences):
            existing.created_at = now  # a changed credential propagates anew
        existing.issuer, existing.subject, existing.audiences = issuer, subject, audiences
        system = self._fic_system.setdefault(fid, {"createdAt": iso(existing.created_at)})
        system.update({"lastModifiedBy": call.appid, "lastModifiedByType": "Application",
                       "lastModifiedAt": iso(now)})
        return json_response(200, self.fic_body(ident, existing))

    def _delete_fic(self, call: Call) -> Response:
        name = call.req.params["fic"]
        with self.state.lock:
            ident = self._parent_identity(call, f"{FIC}/delete")
        with self._fic_write_window(ident):
            with self.state.lock:
                if ident.fics.pop(name.lower(), None) is None:
                    return Response(204)
                self._fic_system.pop(f"{msi_id(ident.id)}/federatedIdentityCredentials/{name}".lower(),
                                     None)
                return Response(200)

    def _fic_write_window(self, ident: UserAssignedIdentity) -> "_WriteWindow":
        return _WriteWindow(self, ident, float(self.state.fic_write_seconds))

    # ----------------------------------------------------------------------------- role assignments
    def assignment_body(self, ra: RoleAssignment) -> dict[str, Any]:
        return {
            "id": ra.id,
            "name": ra.name,
            "type": RA,
            "properties": {
                "roleDefinitionId": ra.role_definition_id,
                "principalId": ra.principal_id,
                "principalType": ra.principal_type,
                "scope": ra.scope,
                "condition": None,
                "conditionVersion": None,
                "description": ra.description,
                "createdOn": iso(ra.created_on),
                "updatedOn": iso(ra.created_on),
                "createdBy": None,
                "updatedBy": None,
                "delegatedManagedIdentityResourceId": None,
            },
        }

    @staticmethod
    def _scope(call: Call) -> str:
        return call.req.params.get("scope") or "/"

    def _require_scope_exists(self, scope: str) -> None:
        sub, rg = sub_of_scope(scope), rg_of_scope(scope)
        if sub and rg:
            self._require_rg(sub, rg)

    def list_role_assignments(self, call: Call) -> Response:
        scope = self._scope(call)
        with self.state.lock:
            self._authorize(call, f"{RA}/read", scope)
            self._require_scope_exists(scope)
            keep = parse_assignment_filter(call.req.arg_ci("$filter"), scope)
            items = [self.assignment_body(ra) for ra in
                     sorted(self.state.role_assignments.values(), key=lambda r: (r.scope.lower(), r.name))
                     if keep(ra)]
        return self._page(call, items, "$skipToken")

    def role_assignment(self, call: Call) -> Response:
        return by_method(call, GET=self._get_role_assignment, PUT=self._put_role_assignment, DELETE=self._delete_role_assignment)

    def _assignment_at(self, scope: str, name: str) -> RoleAssignment | None:
        ra = self.state.role_assignments.get(name.lower())
        if ra is not None and rbac.normalize_scope(ra.scope) == rbac.normalize_scope(scope):
            return ra
        return None

    def _get_role_assignment(self, call: Call) -> Response:
        scope, name = self._scope(call), call.req.params["name"]
        with self.state.lock:
            self._authorize(call, f"{RA}/read", scope)
            ra = self._assignment_at(scope, name)
            if ra is None:
                raise ArmError(404, "RoleAssignmentNotFound",
                               f"The role assignment '{name}' is not found.")
            return json_response(200, self.assignment_body(ra))

    def _put_role_assignment(self, call: Call) -> Response:
        scope, name = self._scope(call), call.req.params["name"]
        props = self._json_body(call).get("properties") or {}
        with self.state.lock:
            self._authorize(call, f"{RA}/write", scope)
            self._require_scope_exists(scope)
            if not GUID.match(name):
                raise ArmError(400, "InvalidRoleAssignmentId",
                               f"The role assignment ID '{name}' is not valid. The role assignment "
                               "ID must be a GUID.")
            rd_id, principal_id = props.get("roleDefinitionId"), props.get("principalId")
            if not isinstance(rd_id, str) or not isinstance(principal_id, str):
                raise ArmError(400, "InvalidRoleAssignmentRequest",
                               "The request must include properties.roleDefinitionId and "
                               "properties.principalId.")
            rd_guid = rd_id.rstrip("/").rsplit("/", 1)[-1]
            if rd_guid.lower() not in self.state.role_definitions:
                raise ArmError(400, "RoleDefinitionDoesNotExist",
                               f"The specified role definition with ID '{rd_guid}' does not exist.")
            principal_type = self._check_principal(call, principal_id, props.get("principalType"))
            sub = sub_of_scope(scope)
            rd_full = (f"/subscriptions/{sub}/providers/{RD}/{rd_guid}" if sub
                       else f"/providers/{RD}/{rd_guid}")
            existing = self.state.role_assignments.get(name.lower())
            if existing is not None:
                return self._repeat_put(existing, scope, rd_guid, principal_id)
            for ra in self.state.role_assignments.values():
                if (ra.role_guid == rd_guid.lower() and ra.principal_id.lower() == principal_id.lower()
                        and rbac.normalize_scope(ra.scope) == rbac.normalize_scope(scope)):
                    raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
            ra = RoleAssignment(name, scope, rd_full, principal_id, principal_type,
                                props.get("description"))
            self.state.role_assignments[name.lower()] = ra
            return json_response(201, self.assignment_body(ra))

    def _check_principal(self, call: Call, principal_id: str, principal_type: Any) -> str:
        """ARM looks the principal up in the directory unless principalType is given (the
        documented workaround for replication delay); a known principal must match the type."""
        sp = self.state.principal_by_object_id(principal_id)
        if sp is None:
            if not principal_type:
                raise ArmError(
                    400, "PrincipalNotFound",
                    f"Principal {principal_id.replace('-', '')} does not exist in the directory "
                    f"{call.tid}. Check that you have the correct principal ID. If you are "
                    "creating this principal and then immediately assigning a role, this error "
                    "might be related to a replication delay. In this case, set the role "
                    "assignment principalType property to a value, such as ServicePrincipal, "
                    "User, or Group.  See https://aka.ms/docs-principaltype")
            return str(principal_type)
        if principal_type and str(principal_type) != "ServicePrincipal":
            raise ArmError(400, "UnmatchedPrincipalType",
                           f"The PrincipalId '{principal_id.replace('-', '')}' has type "
                           f"'ServicePrincipal' , which is different from specified PrincipalType "
                           f"'{principal_type}'.")
        return "ServicePrincipal"

    def _repeat_put(self, existing: RoleAssignment, scope: str, rd_guid: str,
                    principal_id: str) -> Response:
        same = (existing.role_guid == rd_guid.lower()
                and existing.principal_id.lower() == principal_id.lower()
                and rbac.normalize_scope(existing.scope) == rbac.normalize_scope(scope))
        if not same:
            raise ArmError(400, "RoleAssignmentUpdateNotPermitted",
                           "Tenant ID, application ID, principal ID, and scope are not allowed to "
                           "be updated.")
        raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")

    def _delete_role_assignment(self, call: Call) -> Response:
        scope, name = self._scope(call), call.req.params["name"]
        with self.state.lock:
            self._authorize(call, f"{RA}/delete", scope)
            ra = self._assignment_at(scope, name)
            if ra is None:
                return Response(204)
            del self.state.role_assignments[name.lower()]
            return json_response(200, self.assignment_body(ra))

    # ----------------------------------------------------------------------------- role definitions
    def _rd_prefix(self, scope: str) -> str:
        sub = sub_of_scope(scope)
        return f"/subscriptions/{sub}" if sub else ""

    def _authorize_rd_read(self, call: Call, scope: str) -> None:
        # built-in definitions live at the tenant root and are readable by any signed-in caller
        if rbac.normalize_scope(scope) != "/":
            self._authorize(call, f"{RD}/read", scope)
            self._require_scope_exists(scope)

    def get_role_definition(self, call: Call) -> Response:
        scope, name = self._scope(call), call.req.params["name"]
        with self.state.lock:
            self._authorize_rd_read(call, scope)
            rd = self.state.role_definitions.get(name.lower())
            if rd is None:
                raise ArmError(404, "RoleDefinitionDoesNotExist",
                               f"The specified role definition with ID '{name}' does not exist.")
            return json_response(200, rd.body(self._rd_prefix(scope)))

    def list_role_definitions(self, call: Call) -> Response:
        scope = self._scope(call)
        with self.state.lock:
            self._authorize_rd_read(call, scope)
            keep = parse_definition_filter(call.req.arg_ci("$filter"))
            items = [rd.body(self._rd_prefix(scope)) for rd in
                     sorted(self.state.role_definitions.values(), key=lambda r: r.role_name.lower())
                     if keep(rd.role_name, rd.role_type)]
        return self._page(call, items, "$skipToken")

    # ----------------------------------------------------------------------------- permissions
    def list_permissions(self, call: Call) -> Response:
        scope = self._scope(call)
        with self.state.lock:
            self._authorize(call, f"{PERMS}/read", scope)
            self._require_scope_exists(scope)
            blocks = rbac.effective_blocks_in_state(self.state, call.oid, scope)
        return self._page(call, blocks, "$skipToken")


class _WriteWindow:
    """Holds an identity's FIC write window for the length of one write; a second write to the
    same identity meanwhile is refused with 409, as the MSI resource provider does."""

    def __init__(self, arm: Arm, identity: UserAssignedIdentity, seconds: float) -> None:
        self.arm, self.identity, self.seconds = arm, identity, seconds
        self.key = identity.id.lower()

    def __enter__(self) -> None:
        with self.arm._fic_lock:
            if self.arm._fic_writes.get(self.key, 0.0) > time.monotonic():
                # the observed body: Azure/bicep-registry-modules#1447,
                # kubernetes-sigs/cluster-api-provider-azure#5397 (the id in lower case but names)
                raise ArmError(409, "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                               "Too many Federated Identity Credentials are written concurrently "
                               f"for the managed identity '{_observed_id(self.identity)}'. "
                               "Concurrent Federated Identity Credentials writes under the same "
                               "managed identity are not supported.")
            self.arm._fic_writes[self.key] = time.monotonic() + self.seconds + 60
        if self.seconds > 0:
            time.sleep(self.seconds)

    def __exit__(self, *exc: object) -> None:
        with self.arm._fic_lock:
            self.arm._fic_writes.pop(self.key, None)


def _observed_id(ident: UserAssignedIdentity) -> str:
    return (f"/subscriptions/{ident.subscription_id}/resourcegroups/{ident.resource_group}"
            f"/providers/microsoft.managedidentity/userassignedidentities/{ident.name}")


# --------------------------------------------------------------------------------- $filter parsing
_AT_SCOPE = re.compile(r"^atScope\(\)$", re.IGNORECASE)
_PRINCIPAL = re.compile(r"^principalId\s+eq\s+'?([0-9a-fA-F-]+)'?$", re.IGNORECASE)
_ASSIGNED_TO = re.compile(r"^assignedTo\('?([0-9a-fA-F-]+)'?\)$", re.IGNORECASE)
_ROLE_NAME = re.compile(r"^roleName\s+eq\s+'(.*)'$", re.IGNORECASE)
_ROLE_TYPE = re.compile(r"^type\s+eq\s+'(BuiltInRole|CustomRole)'$", re.IGNORECASE)


def _clauses(expr: str | None) -> list[str]:
    if not expr or not expr.strip():
        return []
    return [c.strip() for c in re.split(r"\s+and\s+", expr.strip(), flags=re.IGNORECASE)]


def _invalid_filter(expr: str) -> ArmError:
    return ArmError(400, "InvalidFilterParameter", f"The filter '{expr}' is not supported.")


def parse_assignment_filter(expr: str | None, scope: str) -> Callable[[RoleAssignment], bool]:
    """Which assignments a role-assignment list returns (NOTES.md §4 filter semantics):
    no filter or a principal filter: at, above and below the scope; ``atScope()``: at or above;
    ``principalId eq`` / ``assignedTo()`` (the lab has no groups): that principal's only."""
    at_scope = False
    principals: list[str] = []
    for clause in _clauses(expr):
        if _AT_SCOPE.match(clause):
            at_scope = True
        elif m := (_PRINCIPAL.match(clause) or _ASSIGNED_TO.match(clause)):
            principals.append(m.group(1).lower())
        else:
            raise _invalid_filter(expr or "")

    def keep(ra: RoleAssignment) -> bool:
        above = rbac.scope_covers(ra.scope, scope)
        if at_scope and not above:
            return False
        if not at_scope and not (above or rbac.scope_covers(scope, ra.scope)):
            return False
        return all(ra.principal_id.lower() == p for p in principals)
    return keep


def parse_definition_filter(expr: str | None) -> Callable[[str, str], bool]:
    name: str | None = None
    rtype: str | None = None
    for clause in _clauses(expr):
        if m := _ROLE_NAME.match(clause):
            name = m.group(1).replace("''", "'")
        elif m := _ROLE_TYPE.match(clause):
            rtype = m.group(1)
        elif clause.lower() in ("atscopeandbelow()",):
            continue
        else:
            raise _invalid_filter(expr or "")

    def keep(role_name: str, role_type: str) -> bool:
        return ((name is None or role_name.lower() == name.lower())
                and (rtype is None or role_type.lower() == rtype.lower()))
    return keep


def build_router(lab: "Lab") -> Router:
    return Arm(lab).router()
