"""Microsoft.Resources in the lab's ARM: resource providers (list, get, register) and the
subscription's locations.

Shapes from azure-rest-api-specs, Microsoft.Resources: ``resources/stable/2024-07-01/examples/
GetProviders.json`` and ``2021-04-01/examples/GetProvider.json`` (``{id, namespace,
registrationState, registrationPolicy, resourceTypes[{resourceType, locations[], apiVersions[],
capabilities}]}``, locations as display names), ``subscriptions/stable/2022-12-01/examples/
GetLocations.json`` (``{value: [{id, name, type: "Region", displayName, regionalDisplayName,
metadata{...}}]}``, not paged). An unknown namespace is 404 ``InvalidResourceNamespace``.
Registration states: NotRegistered, Registering, Registered, Unregistering. RegistrationFree
namespaces (Microsoft.Resources, Microsoft.Authorization) are always Registered.

Registration state is per subscription in :class:`~wi_cli.lab.azure_state.AzureState`
(``set_provider_state``); a namespace nobody set is Registered, so scenarios opt into the
unregistered case. ``POST .../register`` answers ``Registering`` like ARM, and the next read says
Registered (ARM takes a minute or more).
"""

from __future__ import annotations

from typing import Any

from ..http import Response, json_response
from .frontdoor import SUB, AddRoute, Arm, ArmError, Call, by_method
from .paging import page

# [doc] "Azure resource provider operations", Microsoft.Resources and each namespace's
# `register/action`.
PROVIDERS_READ = "Microsoft.Resources/subscriptions/providers/read"
LOCATIONS_READ = "Microsoft.Resources/subscriptions/locations/read"

# name, displayName, geography group, geography, physical location, latitude, longitude, pair
_REGIONS: tuple[tuple[str, str, str, str, str, str, str, str], ...] = (
    ("eastus", "East US", "US", "United States", "Virginia", "37.3719", "-79.8164", "westus"),
    ("eastus2", "East US 2", "US", "United States", "Virginia", "36.6681", "-78.3889",
     "centralus"),
    ("westus", "West US", "US", "United States", "California", "37.783", "-122.417", "eastus"),
    ("westus2", "West US 2", "US", "United States", "Washington", "47.233", "-119.852",
     "westcentralus"),
    ("centralus", "Central US", "US", "United States", "Iowa", "41.5908", "-93.6208", "eastus2"),
    ("westcentralus", "West Central US", "US", "United States", "Wyoming", "40.89",
     "-110.234", "westus2"),
    ("northeurope", "North Europe", "Europe", "Europe", "Ireland", "53.3478", "-6.2597",
     "westeurope"),
    ("westeurope", "West Europe", "Europe", "Europe", "Netherlands", "52.3667", "4.9",
     "northeurope"),
    ("swedencentral", "Sweden Central", "Europe", "Sweden", "Gävle", "60.67488", "17.14127",
     "swedensouth"),
    ("uksouth", "UK South", "UK", "United Kingdom", "London", "50.941", "-0.799", "ukwest"),
    ("japaneast", "Japan East", "Asia Pacific", "Japan", "Tokyo, Saitama", "35.68",
     "139.77", "japanwest"),
    ("australiaeast", "Australia East", "Asia Pacific", "Australia", "New South Wales",
     "-33.86", "151.2094", "australiasoutheast"),
)
_DISPLAY = [r[1] for r in _REGIONS]

# namespace -> (registrationPolicy, {resourceType: apiVersions}); the types the lab's clients use
_CATALOG: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "Microsoft.Resources": ("RegistrationFree", {
        "subscriptions": ("2022-12-01", "2021-01-01"),
        "resourceGroups": ("2024-03-01", "2022-09-01", "2021-04-01"),
        "deployments": ("2024-03-01", "2022-09-01")}),
    "Microsoft.Authorization": ("RegistrationFree", {
        "roleAssignments": ("2022-04-01", "2020-10-01-preview", "2015-07-01"),
        "roleDefinitions": ("2022-04-01", "2018-01-01-preview", "2015-07-01"),
        "permissions": ("2022-04-01", "2018-01-01-preview", "2015-07-01")}),
    "Microsoft.ContainerService": ("RegistrationRequired", {
        "managedClusters": ("2026-08-01", "2026-06-01", "2025-10-01", "2025-07-01",
                            "2024-09-01")}),
    "Microsoft.ContainerRegistry": ("RegistrationRequired", {
        "registries": ("2025-04-01", "2023-07-01")}),
    "Microsoft.ManagedIdentity": ("RegistrationRequired", {
        "userAssignedIdentities": ("2025-05-31-preview", "2024-11-30", "2023-01-31",
                                   "2018-11-30"),
        "userAssignedIdentities/federatedIdentityCredentials": (
            "2025-05-31-preview", "2025-01-31-preview", "2024-11-30", "2023-01-31")}),
    "Microsoft.KeyVault": ("RegistrationRequired", {
        "vaults": ("2024-11-01", "2023-07-01", "2023-02-01"),
        "vaults/secrets": ("2024-11-01", "2023-07-01")}),
    "Microsoft.Storage": ("RegistrationRequired", {
        "storageAccounts": ("2025-01-01", "2024-01-01", "2023-05-01"),
        "storageAccounts/blobServices/containers": ("2025-01-01", "2024-01-01")}),
    "Microsoft.Compute": ("RegistrationRequired", {
        "virtualMachineScaleSets": ("2024-11-01", "2024-07-01"),
        "disks": ("2024-03-02", "2023-10-02")}),
    "Microsoft.Network": ("RegistrationRequired", {
        "loadBalancers": ("2024-05-01", "2024-03-01"),
        "publicIPAddresses": ("2024-05-01", "2024-03-01"),
        "networkSecurityGroups": ("2024-05-01", "2024-03-01")}),
    "Microsoft.PolicyInsights": ("RegistrationRequired", {
        "policyStates": ("2024-10-01", "2019-10-01")}),
    "Microsoft.OperationalInsights": ("RegistrationRequired", {
        "workspaces": ("2025-02-01", "2023-09-01")}),
    "microsoft.insights": ("RegistrationRequired", {
        "diagnosticSettings": ("2021-05-01-preview",)}),
}
_BY_LOWER = {ns.lower(): ns for ns in _CATALOG}


def _namespace(name: str) -> str:
    ns = _BY_LOWER.get(name.lower())
    if ns is None:
        raise ArmError(404, "InvalidResourceNamespace",
                       f"The resource namespace '{name}' is invalid.")
    return ns


class Providers:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.state = arm.state

    def routes(self, add: AddRoute) -> None:
        add("GET", SUB + r"/providers", "resources", self.list_providers)
        add("GET", SUB + r"/providers/(?P<ns>[^/]+)", "resources", self.get_provider)
        add("POST", SUB + r"/providers/(?P<ns>[^/]+)/register", "resources", self.register)
        add("*", SUB + r"/locations", "subscriptions",
            lambda call: by_method(call, GET=self.list_locations))

    # -------------------------------------------------------------------------- providers
    def _state(self, sub: str, ns: str) -> str:
        policy, _ = _CATALOG[ns]
        if policy == "RegistrationFree":
            return "Registered"
        return self.state.provider_state(sub, ns) or "Registered"

    def body(self, sub: str, ns: str, state: str | None = None) -> dict[str, Any]:
        policy, types = _CATALOG[ns]
        return {
            "id": f"/subscriptions/{sub}/providers/{ns}",
            "namespace": ns,
            "registrationState": state or self._state(sub, ns),
            "registrationPolicy": policy,
            "resourceTypes": [
                {"resourceType": rtype, "locations": list(_DISPLAY), "apiVersions": list(versions),
                 "capabilities": "SupportsTags, SupportsLocation"}
                for rtype, versions in types.items()],
        }

    def list_providers(self, call: Call) -> Response:
        sub = call.req.params["sub"]
        with self.state.lock:
            self.arm.authorize(call, PROVIDERS_READ, f"/subscriptions/{sub}")
            items = [self.body(sub, ns) for ns in sorted(_CATALOG, key=str.lower)]
        return page(call, items, self.state.page_size)

    def get_provider(self, call: Call) -> Response:
        sub = call.req.params["sub"]
        with self.state.lock:
            self.arm.authorize(call, PROVIDERS_READ, f"/subscriptions/{sub}")
            return json_response(200, self.body(sub, _namespace(call.req.params["ns"])))

    def register(self, call: Call) -> Response:
        sub = call.req.params["sub"]
        with self.state.lock:
            ns = _namespace(call.req.params["ns"])
            self.arm.authorize(call, f"{ns}/register/action", f"/subscriptions/{sub}")
            before = self._state(sub, ns)
            if before != "Registered":
                self.state.set_provider_state(sub, ns, "Registered")
            return json_response(200, self.body(sub, ns, "Registered" if before == "Registered"
                                                else "Registering"))

    # -------------------------------------------------------------------------- locations
    def list_locations(self, call: Call) -> Response:
        sub = call.req.params["sub"]
        with self.state.lock:
            self.arm.authorize(call, LOCATIONS_READ, f"/subscriptions/{sub}")
        return json_response(200, {"value": [_location(sub, r) for r in _REGIONS]})


def _location(sub: str, region: tuple[str, str, str, str, str, str, str, str]) -> dict[str, Any]:
    name, display, group, geography, place, lat, lon, pair = region
    return {
        "id": f"/subscriptions/{sub}/locations/{name}",
        "name": name,
        "type": "Region",
        "displayName": display,
        "regionalDisplayName": f"({group}) {display}",
        "metadata": {
            "regionType": "Physical", "regionCategory": "Recommended",
            "geography": geography, "geographyGroup": group,
            "longitude": lon, "latitude": lat, "physicalLocation": place,
            "pairedRegion": [{"name": pair, "id": f"/subscriptions/{sub}/locations/{pair}"}],
        },
    }
