"""Microsoft.KeyVault vaults and Microsoft.Storage accounts: list and get, just enough for a
client to find a data plane (``wi probe``'s checks); the data planes are in ``lab/dataplane.py``."""

from __future__ import annotations

from typing import Any, Callable

from ..dataplane import blob_endpoint, vault_uri
from ..http import Response, json_response
from .frontdoor import RG, SUB, AddRoute, Arm, Call, iso, not_found
from .paging import list_resources

KV = "Microsoft.KeyVault/vaults"
ST = "Microsoft.Storage/storageAccounts"
_KV = r"/providers/Microsoft\.KeyVault/vaults"
_ST = r"/providers/Microsoft\.Storage/storageAccounts"


class VaultsAndStorage:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.state = arm.state
        self.lab = arm.lab

    def routes(self, add: AddRoute) -> None:
        add("GET", SUB + _KV, "keyvault", self.list_vaults)
        add("GET", RG + _KV, "keyvault", self.list_vaults)
        add("GET", RG + _KV + r"/(?P<name>[^/]+)", "keyvault", self.get_vault)
        add("GET", SUB + _ST, "storage", self.list_storage_accounts)
        add("GET", RG + _ST, "storage", self.list_storage_accounts)
        add("GET", RG + _ST + r"/(?P<name>[^/]+)", "storage", self.get_storage_account)

    def vault_body(self, vault: dict[str, Any]) -> dict[str, Any]:
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

    def _list(self, call: Call, rtype: str,
              body: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        resources = (x for x in self.state.resources.values() if x["type"] == rtype)
        return list_resources(self.arm, call, rtype, resources, body, locate=lambda x: (
            x["subscription_id"], x["resource_group"], x["id"]))

    def _get(self, call: Call, rtype: str,
             body: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        p = call.req.params
        rid = f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}/providers/{rtype}/{p['name']}"
        with self.state.lock:
            self.arm.authorize(call, f"{rtype}/read", rid)
            self.arm.require_rg(p["sub"], p["rg"])
            resource = self.state.resources.get(rid.lower())
            if resource is None:
                raise not_found(rtype, p["name"], p["rg"])
            return json_response(200, body(resource))

    def list_vaults(self, call: Call) -> Response:
        return self._list(call, KV, self.vault_body)

    def get_vault(self, call: Call) -> Response:
        return self._get(call, KV, self.vault_body)

    def list_storage_accounts(self, call: Call) -> Response:
        return self._list(call, ST, self.storage_body)

    def get_storage_account(self, call: Call) -> Response:
        return self._get(call, ST, self.storage_body)
