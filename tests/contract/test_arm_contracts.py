"""The lab's ARM against the REST examples in shared/contracts/{containerservice,msi,authorization,resources}.

For each example the lab is seeded so the example's request can be replayed as written (its
path parameters and api-version, raw HTTP), then the lab's body must contain every key of the
example body with the same JSON type (recursively; lists by their first element), and both
bodies must deserialize through the SDK's own models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from azure.mgmt.authorization.v2022_04_01 import models as authz_models
from azure.mgmt.containerservice import models as aks_models
from azure.mgmt.msi.v2024_11_30 import models as msi_models
from azure.mgmt.resource.subscriptions import models as sub_models

from support import SHARED_CONTRACTS, contract_file
from wi_cli.lab.azure_state import ManagedCluster, ServicePrincipal
from wi_cli.lab.runtime import Lab
from wi_cli.lab.tokens import mint_access_token

CONTRACTS = SHARED_CONTRACTS
BLOB_READER_ID = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # has actions and dataActions
ISSUER = "https://oidc.prod-aks.azure.com/TenantGUID/IssuerGUID"

# Keys of the spec examples for optional features the lab's clusters do not turn on: a disk
# encryption set, customer-supplied outbound IPs and an upgrade override window.
OPTIONAL_KEYS = {
    "properties.diskEncryptionSetID",
    "properties.upgradeSettings",
    "properties.networkProfile.loadBalancerProfile.outboundIPs",
    "value[].properties.diskEncryptionSetID",
}
# Maps whose keys are user data, not schema: only their type is compared.
FREE_FORM_MAPS = {"tags", "value[].tags"}
# Lists the lab answers empty (no lighthouse delegations in the lab).
EMPTY_LISTS = {"value[].managedByTenants"}


def example(relative: str) -> dict[str, Any]:
    return json.loads(contract_file(relative).read_text())


def assert_same_shape(expected: Any, actual: Any, where: str = "") -> None:
    """Every key of ``expected`` is in ``actual`` with the same JSON type, recursively."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where or '<body>'}: expected an object, got {actual!r}"
        if where in FREE_FORM_MAPS:
            return
        for key, value in expected.items():
            path = f"{where}.{key}" if where else key
            if path in OPTIONAL_KEYS:
                continue
            assert key in actual, f"{path}: missing in the lab's answer"
            assert_same_shape(value, actual[key], path)
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        if expected and not (not actual and where in EMPTY_LISTS):
            assert actual, f"{where}: the lab's list is empty"
            assert_same_shape(expected[0], actual[0], f"{where}[]")
    elif isinstance(expected, bool) or expected is None:
        assert isinstance(actual, type(expected)) or expected is None, f"{where}: {actual!r}"
    elif isinstance(expected, (int, float)):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), f"{where}: {actual!r}"
    else:
        assert isinstance(actual, type(expected)), f"{where}: {type(actual)} vs {type(expected)}"


@dataclass
class Replay:
    lab: Lab
    caller: ServicePrincipal

    def send(self, method: str, path: str, api_version: str, body: Any = None,
             **params: str) -> requests.Response:
        token = mint_access_token(self.lab, self.caller, self.lab.arm_audience)
        return requests.request(method, self.lab.arm.url + path,
                                params={"api-version": api_version, **params}, json=body,
                                headers={"Authorization": f"Bearer {token}"},
                                verify=str(self.lab.ca_file), timeout=10)


def _subscriptions_in_examples() -> list[str]:
    return ["00000000-0000-0000-0000-000000000000", "subid", "c267c0e7-0a73-4789-9e17-d26aeb0904e5",
            "a925f2f7-5c63-4b7b-8799-25a5f97bc3b2"]


@pytest.fixture(scope="module")
def replay() -> Iterator[Replay]:
    contract_file("")
    with Lab() as lab:
        az = lab.azure
        az.page_size = 1  # every list seeded with two items pages, so nextLink shows
        tenant = az.add_tenant()
        caller = az.add_service_principal(tenant, "contract-caller")
        for sub in _subscriptions_in_examples():
            az.add_subscription(tenant, sub)
            az.add_role_assignment(f"/subscriptions/{sub}", "Owner", caller.object_id)
        for name in ("clustername1", "clustername2"):
            az.add_cluster(ManagedCluster("00000000-0000-0000-0000-000000000000", "rg1", name,
                                          "location1", tags={"archv2": "", "tier": "production"},
                                          issuer_url=f"https://lab.example/{name}/"))
        for sub in ("subid", "c267c0e7-0a73-4789-9e17-d26aeb0904e5"):
            for name in ("resourceName", "identityName"):
                ident = az.add_identity(sub, "rgName", name, "eastus")
                ident.tags = {"key1": "value1", "key2": "value2"}
        # a second, different permission block at the example's resource group
        az.add_role_assignment("/subscriptions/subid/resourceGroups/rgname", "Key Vault Secrets User",
                               caller.object_id)
        az.add_resource_group("a925f2f7-5c63-4b7b-8799-25a5f97bc3b2", "testrg")
        az.add_role_assignment("/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2/resourceGroups/testrg",
                               "Reader", caller.object_id)
        yield Replay(lab, caller)


def _fic_identity(replay: Replay) -> Any:
    ident = replay.lab.azure.identity("c267c0e7-0a73-4789-9e17-d26aeb0904e5", "rgName", "resourceName")
    for name, subject in (("ficResourceName", "system:serviceaccount:ns:svcaccount"),
                          ("ficOther", "system:serviceaccount:ns:other")):
        if name.lower() not in ident.fics:
            replay.lab.azure.add_fic(ident, name, ISSUER, subject)
    return ident


def _path(template: str, params: dict[str, str]) -> str:
    return template.format(**params)


def _check(expected: dict[str, Any], response: requests.Response, status: int,
           deserialize: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert_same_shape(expected, body)
    deserialize(expected)
    deserialize(body)
    return body


# ------------------------------------------------------------------------------------------ AKS
AKS = ("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
       "/providers/Microsoft.ContainerService/managedClusters")


def _cluster_model(body: dict[str, Any]) -> None:
    mc = aks_models.ManagedCluster(body)
    assert mc.name == body["name"] and mc.location == body["location"]
    assert mc.properties.agent_pool_profiles[0].name
    assert mc.properties.network_profile.service_cidr == body["properties"]["networkProfile"]["serviceCidr"]


def _cluster_list_model(body: dict[str, Any]) -> None:
    for item in body["value"]:
        _cluster_model(item)


def test_managed_clusters_get(replay: Replay) -> None:
    ex = example("containerservice/ManagedClustersGet.2026-08-01.json")
    p = ex["parameters"]
    r = replay.send("GET", _path(AKS + "/{resourceName}", p), p["api-version"])
    body = _check(ex["responses"]["200"]["body"], r, 200, _cluster_model)
    assert body["id"].lower() == ex["responses"]["200"]["body"]["id"].lower()


def test_managed_clusters_list_by_subscription(replay: Replay) -> None:
    ex = example("containerservice/ManagedClustersList.2026-08-01.json")
    p = ex["parameters"]
    r = replay.send("GET", f"/subscriptions/{p['subscriptionId']}/providers/"
                           "Microsoft.ContainerService/managedClusters", p["api-version"])
    body = _check(ex["responses"]["200"]["body"], r, 200, _cluster_list_model)
    assert body["nextLink"].startswith(replay.lab.arm.url)


def test_managed_clusters_list_by_resource_group(replay: Replay) -> None:
    ex = example("containerservice/ManagedClustersListByResourceGroup.2025-10-01.json")
    p = ex["parameters"]
    r = replay.send("GET", _path(AKS, p), p["api-version"])
    _check(ex["responses"]["200"]["body"], r, 200, _cluster_list_model)


def test_managed_clusters_list_cluster_user_credentials(replay: Replay) -> None:
    ex = example("containerservice/ManagedClustersListClusterUserCredentials.2025-10-01.json")
    p = ex["parameters"]
    r = replay.send("POST", _path(AKS + "/{resourceName}/listClusterUserCredential", p),
                    p["api-version"])

    def model(body: dict[str, Any]) -> None:
        result = aks_models.CredentialResults(body)
        assert isinstance(result.kubeconfigs[0].value, bytes)
    body = _check(ex["responses"]["200"]["body"], r, 200, model)
    assert body["kubeconfigs"][0]["name"] == "clusterUser"


# ------------------------------------------------------------------------------------------ MSI
MI = ("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
      "/providers/Microsoft.ManagedIdentity/userAssignedIdentities")


def _identity_model(body: dict[str, Any]) -> None:
    ident = msi_models.Identity.deserialize(body)
    assert ident.client_id == body["properties"]["clientId"]
    assert ident.principal_id == body["properties"]["principalId"]


def _identity_list_model(body: dict[str, Any]) -> None:
    result = msi_models.UserAssignedIdentitiesListResult.deserialize(body)
    assert result.value[0].tenant_id == body["value"][0]["properties"]["tenantId"]


def _fic_model(body: dict[str, Any]) -> None:
    fic = msi_models.FederatedIdentityCredential.deserialize(body)
    assert (fic.issuer, fic.subject, fic.audiences) == (
        body["properties"]["issuer"], body["properties"]["subject"], body["properties"]["audiences"])


def test_identity_get(replay: Replay) -> None:
    ex = example("msi/IdentityGet.2024-11-30.json")
    p = ex["parameters"]
    r = replay.send("GET", _path(MI + "/{resourceName}", p), p["api-version"])
    _check(ex["responses"]["200"]["body"], r, 200, _identity_model)


def test_identity_list_by_resource_group(replay: Replay) -> None:
    ex = example("msi/IdentityListByResourceGroup.2024-11-30.json")
    p = ex["parameters"]
    r = replay.send("GET", _path(MI, p), p["api-version"])
    body = _check(ex["responses"]["200"]["body"], r, 200, _identity_list_model)
    assert "$skiptoken=" in body["nextLink"]


def test_identity_list_by_subscription(replay: Replay) -> None:
    ex = example("msi/IdentityListBySubscription.2024-11-30.json")
    p = ex["parameters"]
    r = replay.send("GET", f"/subscriptions/{p['subscriptionId']}/providers/"
                           "Microsoft.ManagedIdentity/userAssignedIdentities", p["api-version"])
    _check(ex["responses"]["200"]["body"], r, 200, _identity_list_model)


def test_fic_create_then_update(replay: Replay) -> None:
    ex = example("msi/FederatedIdentityCredentialCreate.2024-11-30.json")
    p = ex["parameters"]
    ident = _fic_identity(replay)
    ident.fics.pop(p["federatedIdentityCredentialResourceName"].lower(), None)
    path = _path(MI + "/{resourceName}/federatedIdentityCredentials/"
                      "{federatedIdentityCredentialResourceName}", p)
    created = replay.send("PUT", path, p["api-version"], p["parameters"])
    body = _check(ex["responses"]["201"]["body"], created, 201, _fic_model)
    assert body["properties"] == p["parameters"]["properties"]
    updated = replay.send("PUT", path, p["api-version"], p["parameters"])
    _check(ex["responses"]["200"]["body"], updated, 200, _fic_model)


def test_fic_get(replay: Replay) -> None:
    ex = example("msi/FederatedIdentityCredentialGet.2024-11-30.json")
    p = ex["parameters"]
    _fic_identity(replay)
    r = replay.send("GET", _path(MI + "/{resourceName}/federatedIdentityCredentials/"
                                      "{federatedIdentityCredentialResourceName}", p),
                    p["api-version"])
    _check(ex["responses"]["200"]["body"], r, 200, _fic_model)


def test_fic_list(replay: Replay) -> None:
    ex = example("msi/FederatedIdentityCredentialList.2024-11-30.json")
    p = ex["parameters"]
    _fic_identity(replay)
    # the example's $top=20 with a nextLink needs more than the 20-FIC limit; $top=1 pages
    r = replay.send("GET", _path(MI + "/{resourceName}/federatedIdentityCredentials", p),
                    p["api-version"], **{"$top": "1"})

    def model(body: dict[str, Any]) -> None:
        result = msi_models.FederatedIdentityCredentialsListResult.deserialize(body)
        assert result.value[0].subject == body["value"][0]["properties"]["subject"]
    body = _check(ex["responses"]["200"]["body"], r, 200, model)
    assert "$top=1" in body["nextLink"] and "$skiptoken=" in body["nextLink"]


def test_fic_delete(replay: Replay) -> None:
    ex = example("msi/FederatedIdentityCredentialDelete.2024-11-30.json")
    p = ex["parameters"]
    _fic_identity(replay)
    path = _path(MI + "/{resourceName}/federatedIdentityCredentials/"
                      "{federatedIdentityCredentialResourceName}", p)
    first = replay.send("DELETE", path, p["api-version"])
    second = replay.send("DELETE", path, p["api-version"])
    assert (first.status_code, second.status_code) == (200, 204)
    assert set(ex["responses"]) == {"200", "204"}


# ------------------------------------------------------------------------------------------ Authorization
def test_permissions_for_resource_group(replay: Replay) -> None:
    ex = example("authorization/GetPermissions.2018-01-01-preview.json")
    p = ex["parameters"]
    r = replay.send("GET", f"/subscriptions/{p['subscriptionId']}/resourcegroups/"
                           f"{p['resourceGroupName']}/providers/Microsoft.Authorization/permissions",
                    p["api-version"])

    def model(body: dict[str, Any]) -> None:
        result = authz_models.PermissionGetResult.deserialize(body)
        assert result.value[0].actions == body["value"][0]["actions"]
        assert result.value[0].not_data_actions == body["value"][0]["notDataActions"]
    body = _check(ex["responses"]["200"]["body"], r, 200, model)
    assert body["value"] == [{"actions": ["*"], "notActions": [], "dataActions": [],
                              "notDataActions": []}]
    second = requests.get(body["nextLink"], headers=r.request.headers, verify=str(replay.lab.ca_file),
                          timeout=10).json()
    assert second["value"][0]["dataActions"][0].startswith("Microsoft.KeyVault/")


def _role_definition_model(body: dict[str, Any]) -> None:
    rd = authz_models.RoleDefinition.deserialize(body)
    assert rd.role_name == body["properties"]["roleName"]
    assert rd.role_type == body["properties"]["type"]
    assert rd.permissions[0].actions == body["properties"]["permissions"][0]["actions"]


def test_role_definition_by_id(replay: Replay) -> None:
    ex = example("authorization/GetRoleDefinitionById.2022-04-01.json")
    role_id = f"/subscriptions/subid/providers/Microsoft.Authorization/roleDefinitions/{BLOB_READER_ID}"
    r = replay.send("GET", role_id, ex["parameters"]["api-version"])
    body = _check(ex["responses"]["200"]["body"], r, 200, _role_definition_model)
    assert body["id"] == role_id and body["properties"]["roleName"] == "Storage Blob Data Reader"


def test_role_definition_by_name_at_scope(replay: Replay) -> None:
    ex = example("authorization/GetRoleDefinitionByName.2022-04-01.json")
    scope = "/subscriptions/subid/resourceGroups/rgName"
    r = replay.send("GET", f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{BLOB_READER_ID}",
                    ex["parameters"]["api-version"])
    _check(ex["responses"]["200"]["body"], r, 200, _role_definition_model)


def _role_assignment_list_model(body: dict[str, Any]) -> None:
    result = authz_models.RoleAssignmentListResult.deserialize(body)
    first = result.value[0]
    assert first.principal_id == body["value"][0]["properties"]["principalId"]
    assert first.scope == body["value"][0]["properties"]["scope"]
    authz_models.RoleAssignment.deserialize(body["value"][0])


def test_role_assignments_list_for_resource_group(replay: Replay) -> None:
    ex = example("authorization/RoleAssignments_ListForResourceGroup.2022-04-01.json")
    p = ex["parameters"]
    r = replay.send("GET", f"/subscriptions/{p['subscriptionId']}/resourceGroups/"
                           f"{p['resourceGroupName']}/providers/Microsoft.Authorization/roleAssignments",
                    p["api-version"])
    _check(ex["responses"]["200"]["body"], r, 200, _role_assignment_list_model)


def test_role_assignments_list_for_scope(replay: Replay) -> None:
    ex = example("authorization/RoleAssignments_ListForScope.2022-04-01.json")
    p = ex["parameters"]
    r = replay.send("GET", f"/{p['scope']}/providers/Microsoft.Authorization/roleAssignments",
                    p["api-version"])
    body = _check(ex["responses"]["200"]["body"], r, 200, _role_assignment_list_model)
    assert "$skipToken=" in body["nextLink"]


# ------------------------------------------------------------------------------------------ Subscriptions
def test_subscriptions_list(replay: Replay) -> None:
    ex = example("resources/GetSubscriptions.2022-12-01.json")
    r = replay.send("GET", "/subscriptions", ex["parameters"]["api-version"])

    def model(body: dict[str, Any]) -> None:
        first = sub_models.Subscription(body["value"][0])  # the package has no list model
        assert first.subscription_id == body["value"][0]["subscriptionId"]
        assert first.subscription_policies.spending_limit == body["value"][0]["subscriptionPolicies"][
            "spendingLimit"]
    body = _check(ex["responses"]["200"]["body"], r, 200, model)
    assert body["value"][0]["tenantId"] == replay.caller.tenant_id


def test_shape_check_catches_differences() -> None:
    """The comparator itself: a missing key, a type change and an empty list all fail."""
    with pytest.raises(AssertionError, match="missing"):
        assert_same_shape({"a": {"b": 1}}, {"a": {}})
    with pytest.raises(AssertionError):
        assert_same_shape({"a": "x"}, {"a": 1})
    with pytest.raises(AssertionError):
        assert_same_shape({"a": True}, {"a": "true"})
    with pytest.raises(AssertionError, match="empty"):
        assert_same_shape({"v": [{"k": 1}]}, {"v": []})
    assert_same_shape({"v": [{"k": 1}], "n": 1.5}, {"v": [{"k": 2, "extra": 0}], "n": 2})
