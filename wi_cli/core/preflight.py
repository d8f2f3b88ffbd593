"""`wi provision`'s preflight: what the bundled module needs from the subscription, and what is missing.

A first `terraform apply` that lacks one permission fails after AKS and the rest exist (a partial
apply: a Contributor cannot create the module's role assignments), and one that meets an
unregistered resource provider fails on that resource. The preflight reads, before Terraform
starts, the caller's effective permissions at the subscription (ARM's permissions API), the
registration state of the resource providers the module uses, and the regions the subscription
offers; anything missing is one refusal (exit 4) that names it and the fix.

Everything here is pure: the ARM reads live in ``adapters/azure/preflight.py``. The needs are
keyed by the Terraform resource types of ``terraform/`` (a unit test keeps the table and the
module in step); the subscription is the scope because the module creates its resource group.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .errors import RemoteError
from .models import PermissionBlock, permits

REGISTERED = "Registered"


@dataclass(frozen=True)
class Needs:
    """What creating one resource type of the bundled module takes."""

    actions: tuple[str, ...] = ()  # control-plane actions at the subscription
    providers: tuple[str, ...] = ()  # resource provider namespaces that must be registered
    note: str = ""


# Terraform resource type -> needs. Writes are checked with their reads (Terraform refreshes
# what it created). The provider list is the module's `resource_providers_to_register`.
RESOURCE_NEEDS: dict[str, Needs] = {
    "azurerm_resource_group": Needs(("Microsoft.Resources/subscriptions/resourceGroups/write",)),
    "azurerm_kubernetes_cluster": Needs(
        ("Microsoft.ContainerService/managedClusters/write",
         # wi merges the cluster's user kubeconfig right after the apply
         "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action"),
        # AKS creates the node pool's scale set (Compute) and load balancer, public IP and NSG
        # (Network) in its node resource group; the Azure Policy add-on needs PolicyInsights.
        ("Microsoft.ContainerService", "Microsoft.Compute", "Microsoft.Network",
         "Microsoft.PolicyInsights")),
    "azurerm_container_registry": Needs(("Microsoft.ContainerRegistry/registries/write",),
                                        ("Microsoft.ContainerRegistry",)),
    "azurerm_user_assigned_identity": Needs(
        ("Microsoft.ManagedIdentity/userAssignedIdentities/write",),
        ("Microsoft.ManagedIdentity",)),
    "azurerm_role_assignment": Needs(("Microsoft.Authorization/roleAssignments/write",)),
    "azurerm_key_vault": Needs(("Microsoft.KeyVault/vaults/write",), ("Microsoft.KeyVault",)),
    "azurerm_key_vault_secret": Needs(
        note="data plane: the module grants the caller Key Vault Secrets Officer first"),
    "azurerm_storage_account": Needs(
        # azurerm reads the account's data-plane properties with its keys
        ("Microsoft.Storage/storageAccounts/write",
         "Microsoft.Storage/storageAccounts/listkeys/action"),
        ("Microsoft.Storage",)),
    "azurerm_storage_account_queue_properties": Needs(
        ("Microsoft.Storage/storageAccounts/listkeys/action",),
        note="queue service properties are set through the data plane with the account's keys"),
    "azurerm_storage_container": Needs(
        ("Microsoft.Storage/storageAccounts/blobServices/containers/write",)),
    "random_string": Needs(),
    "random_password": Needs(),
    "time_sleep": Needs(),
}

# Built-in roles to suggest for a missing action (role names as Azure publishes them).
_ROLE_ASSIGNMENT_ROLES = ("Owner, User Access Administrator or Role Based Access Control "
                          "Administrator")


@dataclass(frozen=True)
class Requirements:
    actions: dict[str, list[str]]  # action -> resource types that need it
    providers: dict[str, list[str]]  # namespace -> resource types that need it
    unknown_types: list[str] = field(default_factory=list)


# -- the module's needs ------------------------------------------------------------------------

_RESOURCE = re.compile(r'^\s*resource\s+"([A-Za-z0-9_]+)"\s+"[^"]+"', re.MULTILINE)


def module_resource_types(module: Path) -> list[str]:
    """The resource types a root module declares (``resource "TYPE" "NAME"`` in its .tf files)."""
    types: set[str] = set()
    for path in sorted(module.glob("*.tf")):
        types.update(_RESOURCE.findall(path.read_text()))
    return sorted(types)


def _read_action(action: str) -> str | None:
    return action[: -len("/write")] + "/read" if action.endswith("/write") else None


def requirements(resource_types: Iterable[str]) -> Requirements:
    actions: dict[str, list[str]] = {}
    providers: dict[str, list[str]] = {}
    unknown: list[str] = []
    for rtype in sorted(set(resource_types)):
        needs = RESOURCE_NEEDS.get(rtype)
        if needs is None:
            unknown.append(rtype)
            continue
        for action in needs.actions:
            for needed in filter(None, (action, _read_action(action))):
                actions.setdefault(needed, []).append(rtype)
        for namespace in needs.providers:
            providers.setdefault(namespace, []).append(rtype)
    return Requirements(actions, providers, unknown)


# -- the region --------------------------------------------------------------------------------

_TFVAR_LINE = re.compile(r'^\s*location\s*=\s*"([^"]*)"\s*(?:#.*)?$', re.MULTILINE)
_LOCATION_DEFAULT = re.compile(r'variable\s+"location"\s*\{[^}]*?\bdefault\s*=\s*"([^"]*)"',
                               re.DOTALL)


def _location_in_var_file(path: Path) -> str | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    if path.name.endswith(".json"):
        try:
            value = json.loads(text).get("location")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None
    found = _TFVAR_LINE.findall(text)
    return found[-1] if found else None


def resolve_location(variables: Mapping[str, str], var_files: Sequence[Path],
                     env: Mapping[str, str], module: Path) -> str | None:
    """The ``location`` Terraform will use, in Terraform's precedence: -var, then the -var-files
    in order (wi passes them before -var), TF_VAR_location, the variable's default."""
    if variables.get("location"):
        return variables["location"]
    for path in reversed(list(var_files)):
        value = _location_in_var_file(path)
        if value:
            return value
    if env.get("TF_VAR_location"):
        return env["TF_VAR_location"]
    for path in sorted(module.glob("*.tf")):
        m = _LOCATION_DEFAULT.search(path.read_text())
        if m:
            return m.group(1)
    return None


# -- the verdict -------------------------------------------------------------------------------

@dataclass
class PreflightReport:
    subscription: str | None = None
    location: str | None = None
    skipped: str | None = None  # why the preflight did not run
    missing_actions: dict[str, list[str]] = field(default_factory=dict)
    allowed_actions: list[str] = field(default_factory=list)
    providers: dict[str, str | None] = field(default_factory=dict)  # namespace -> state
    provider_needs: dict[str, list[str]] = field(default_factory=dict)
    region_available: bool | None = None
    region_suggestions: list[str] = field(default_factory=list)

    @property
    def scope(self) -> str | None:
        return f"/subscriptions/{self.subscription}" if self.subscription else None

    @property
    def unregistered(self) -> dict[str, str | None]:
        return {ns: state for ns, state in self.providers.items() if state != REGISTERED}

    @property
    def ok(self) -> bool:
        return self.skipped is None and not (self.missing_actions or self.unregistered
                                             or self.region_available is False)

    def problems(self) -> list[str]:
        out = []
        if self.missing_actions:
            out.append(f"the caller lacks {', '.join(self.missing_actions)} at {self.scope}")
        for ns, state in self.unregistered.items():
            out.append(f"resource provider {ns} is {state or 'unknown to this subscription'}")
        if self.region_available is False:
            out.append(f"region '{self.location}' is not available to subscription "
                       f"{self.subscription}")
        return out

    def remediation(self) -> list[str]:
        lines = []
        if self.missing_actions:
            authz = [a for a in self.missing_actions if a.lower().startswith("microsoft.authorization/")]
            other = [a for a in self.missing_actions if a not in authz]
            if authz:
                lines.append(f"Ask for {_ROLE_ASSIGNMENT_ROLES} on {self.scope} (the module "
                             "creates role assignments, which Contributor cannot), or run wi "
                             "as a principal that has it.")
            if other:
                lines.append(f"Ask for Contributor (or a role with {', '.join(other)}) on "
                             f"{self.scope}.")
        for ns, state in self.unregistered.items():
            if state == "Registering":
                lines.append(f"Wait until `az provider show -n {ns} --subscription "
                             f"{self.subscription} --query registrationState` says Registered.")
            else:
                lines.append(f"az provider register --namespace {ns} --subscription "
                             f"{self.subscription}")
        if self.region_available is False:
            hint = f" (close: {', '.join(self.region_suggestions)})" if self.region_suggestions else ""
            lines.append(f"Pass --var location=REGION with a region the subscription offers{hint}; "
                         "list them with `az account list-locations -o table`.")
        lines.append("Or pass --skip-preflight to let Terraform try anyway (it may stop half-way).")
        return lines

    def summary(self) -> str:
        if self.skipped:
            return f"Preflight skipped: {self.skipped}."
        checked = (f"{len(self.allowed_actions) + len(self.missing_actions)} permissions at "
                   f"{self.scope}, {len(self.providers)} resource providers, region "
                   f"{self.location or '(unknown)'}")
        if self.ok:
            return f"Preflight passed: {checked}."
        return f"Preflight found problems ({checked}): {'; '.join(self.problems())}."

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "skipped" if self.skipped else ("ok" if self.ok else "failed"),
            "skipped": self.skipped,
            "scope": self.scope,
            "permissions": (
                [{"action": a, "allowed": True} for a in self.allowed_actions]
                + [{"action": a, "allowed": False, "needed_for": types}
                   for a, types in self.missing_actions.items()]),
            "resource_providers": [
                {"namespace": ns, "registration_state": state, "ok": state == REGISTERED,
                 "needed_for": self.provider_needs.get(ns, [])}
                for ns, state in self.providers.items()],
            "region": {"name": self.location, "available": self.region_available,
                       "suggestions": self.region_suggestions},
            "problems": self.problems(),
        }


def evaluate(reqs: Requirements, subscription: str, blocks: Sequence[PermissionBlock],
             provider_states: Mapping[str, str | None], location: str | None,
             locations: Sequence[str] | None) -> PreflightReport:
    """Compare the module's needs with what ARM said. ``provider_states`` maps each needed
    namespace to its registrationState (None: the subscription does not know the namespace);
    ``locations`` are the subscription's region names (None: not read)."""
    report = PreflightReport(subscription, location)
    for action, types in reqs.actions.items():
        if permits(blocks, action):
            report.allowed_actions.append(action)
        else:
            report.missing_actions[action] = types
    report.providers = {ns: provider_states.get(ns) for ns in reqs.providers}
    report.provider_needs = dict(reqs.providers)
    if location and locations is not None:
        names = {n.lower() for n in locations}
        report.region_available = location.lower() in names
        if not report.region_available:
            report.region_suggestions = difflib.get_close_matches(location.lower(), sorted(names),
                                                                  n=3, cutoff=0.6)
    return report


class PreflightRefused(RemoteError):
    """Exit 4: the subscription would refuse part of the apply (DESIGN §3.6: a preflight finds a
    permission missing). ``data`` carries the report for ``-o json``."""

    def __init__(self, report: PreflightReport) -> None:
        super().__init__("The preflight stopped wi provision before Terraform ran: "
                         + "; ".join(report.problems()) + ".", report.remediation())
        self.data = {"preflight": report.to_json()}

