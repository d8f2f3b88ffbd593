"""The preflight's decisions on plain data: what the bundled module needs, ARM's wildcard
matching of permission blocks, the region Terraform will use, and the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest

from wi_cli.core import preflight as pf
from wi_cli.core.models import PermissionBlock, action_matches, permits
from wi_cli.core.errors import ExitCode

MODULE = Path(__file__).resolve().parents[2] / "terraform"
SUB = "11111111-2222-3333-4444-555555555555"

# Built-in role permission blocks as Azure publishes them (Contributor: current docs).
OWNER = PermissionBlock(("*",))
READER = PermissionBlock(("*/read",))
CONTRIBUTOR = PermissionBlock(("*",), (
    "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
    "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
    "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action",
    "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete"))
USER_ACCESS_ADMIN = PermissionBlock(("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"))


def needs() -> pf.Requirements:
    return pf.requirements(pf.module_resource_types(MODULE))


def registered(reqs: pf.Requirements) -> dict[str, str | None]:
    return {ns: "Registered" for ns in reqs.providers}


# -- the module's needs ------------------------------------------------------------------------

def test_every_resource_type_of_the_module_has_its_needs_listed() -> None:
    types = pf.module_resource_types(MODULE)
    assert "azurerm_kubernetes_cluster" in types and "time_sleep" in types
    reqs = pf.requirements(types)
    assert reqs.unknown_types == []
    assert set(pf.RESOURCE_NEEDS) == set(types), "the table lists types the module no longer has"


def test_the_providers_checked_are_those_the_module_registers() -> None:
    with (MODULE / "versions.tf").open() as fh:
        provider = hcl2.load(fh)["provider"][0]
    provider = provider.get("azurerm") or provider['"azurerm"']  # python-hcl2 >= 5 keeps quotes
    listed = {p.strip('"') for p in provider["resource_providers_to_register"]}
    assert provider["resource_provider_registrations"].strip('"') == "none"
    assert set(needs().providers) == listed


def test_needed_actions_include_role_assignments_and_the_reads_of_each_write() -> None:
    actions = needs().actions
    assert actions["Microsoft.Authorization/roleAssignments/write"] == ["azurerm_role_assignment"]
    assert "Microsoft.ContainerService/managedClusters/write" in actions
    assert "Microsoft.ContainerService/managedClusters/read" in actions
    assert "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action" in actions
    assert "Microsoft.Resources/subscriptions/resourceGroups/write" in actions
    assert "Microsoft.ManagedIdentity/userAssignedIdentities/write" in actions
    assert not any(a.endswith("listkeys/read") for a in actions)


# -- ARM's matching ----------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, action, expected", [
    ("*", "Microsoft.Authorization/roleAssignments/write", True),
    ("*/read", "Microsoft.ContainerService/managedClusters/read", True),
    ("*/read", "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", False),
    ("Microsoft.Authorization/*/Write", "microsoft.authorization/roleassignments/write", True),
    ("Microsoft.Authorization/*", "Microsoft.Authorization/roleAssignments/write", True),
    ("Microsoft.Compute/*", "Microsoft.ComputeX/disks/write", False),
    ("Microsoft.Storage/storageAccounts/listKeys/action",
     "Microsoft.Storage/storageAccounts/listkeys/action", True),
    ("Microsoft.KeyVault/vaults/write", "Microsoft.KeyVault/vaults/writeX", False),
])
def test_action_patterns(pattern: str, action: str, expected: bool) -> None:
    assert action_matches(pattern, action) is expected


def test_not_actions_exclude_within_a_block_but_do_not_deny_across_roles() -> None:
    write = "Microsoft.Authorization/roleAssignments/write"
    assert not permits([CONTRIBUTOR], write)
    assert permits([CONTRIBUTOR, USER_ACCESS_ADMIN], write)
    assert permits([CONTRIBUTOR], "Microsoft.ContainerService/managedClusters/write")
    assert not permits([], write)


# -- the verdict -------------------------------------------------------------------------------

def test_owner_with_everything_registered_passes() -> None:
    reqs = needs()
    report = pf.evaluate(reqs, SUB, [OWNER], registered(reqs), "westeurope",
                         ["westeurope", "northeurope"])
    assert report.ok and report.problems() == []
    assert report.summary().startswith("Preflight passed:")
    doc = report.to_json()
    assert doc["status"] == "ok" and doc["scope"] == f"/subscriptions/{SUB}"
    assert all(p["allowed"] for p in doc["permissions"])
    assert doc["region"] == {"name": "westeurope", "available": True, "suggestions": []}


def test_contributor_lacks_only_role_assignment_write_and_is_told_which_roles_have_it() -> None:
    reqs = needs()
    report = pf.evaluate(reqs, SUB, [CONTRIBUTOR], registered(reqs), "westeurope", ["westeurope"])
    assert list(report.missing_actions) == ["Microsoft.Authorization/roleAssignments/write"]
    assert not report.ok
    refusal = pf.PreflightRefused(report)
    assert refusal.exit_code == ExitCode.REMOTE == 4
    assert "Microsoft.Authorization/roleAssignments/write" in refusal.message
    assert f"/subscriptions/{SUB}" in refusal.message
    assert "User Access Administrator" in refusal.remediation[0]
    assert refusal.remediation[-1].startswith("Or pass --skip-preflight")
    data = refusal.data["preflight"]
    assert data["status"] == "failed"
    missing = [p for p in data["permissions"] if not p["allowed"]]
    assert missing == [{"action": "Microsoft.Authorization/roleAssignments/write",
                        "allowed": False, "needed_for": ["azurerm_role_assignment"]}]


def test_reader_lacks_every_write() -> None:
    reqs = needs()
    report = pf.evaluate(reqs, SUB, [READER], registered(reqs), None, None)
    assert "Microsoft.ContainerService/managedClusters/write" in report.missing_actions
    assert "Microsoft.ContainerService/managedClusters/read" not in report.missing_actions
    assert any(line.startswith("Ask for Contributor") for line in report.remediation())
    assert report.region_available is None  # not checked without a location


def test_unregistered_and_unknown_providers_are_named_with_the_command_to_register() -> None:
    reqs = needs()
    states = {**registered(reqs), "Microsoft.PolicyInsights": "NotRegistered",
              "Microsoft.ContainerService": "Registering", "Microsoft.KeyVault": None}
    report = pf.evaluate(reqs, SUB, [OWNER], states, "westeurope", ["westeurope"])
    problems = report.problems()
    assert "resource provider Microsoft.PolicyInsights is NotRegistered" in problems
    assert "resource provider Microsoft.ContainerService is Registering" in problems
    assert "resource provider Microsoft.KeyVault is unknown to this subscription" in problems
    fixes = report.remediation()
    assert f"az provider register --namespace Microsoft.PolicyInsights --subscription {SUB}" in fixes
    assert any("az provider show -n Microsoft.ContainerService" in f for f in fixes)
    entry = next(p for p in report.to_json()["resource_providers"]
                 if p["namespace"] == "Microsoft.PolicyInsights")
    assert entry == {"namespace": "Microsoft.PolicyInsights", "registration_state": "NotRegistered",
                     "ok": False, "needed_for": ["azurerm_kubernetes_cluster"]}


def test_a_region_the_subscription_lacks_is_refused_with_close_names() -> None:
    reqs = needs()
    report = pf.evaluate(reqs, SUB, [OWNER], registered(reqs), "westeruope",
                         ["westeurope", "northeurope", "eastus"])
    assert report.region_available is False and report.region_suggestions == ["westeurope"]
    assert report.problems() == [f"region 'westeruope' is not available to subscription {SUB}"]
    assert any("--var location=REGION" in line and "westeurope" in line
               for line in report.remediation())


def test_skipped_report() -> None:
    report = pf.PreflightReport(skipped="--skip-preflight was given")
    assert not report.ok and report.problems() == []
    assert report.to_json()["status"] == "skipped"
    assert report.summary() == "Preflight skipped: --skip-preflight was given."


# -- the region Terraform will use -------------------------------------------------------------

def test_location_defaults_to_the_module_default() -> None:
    assert pf.resolve_location({}, [], {}, MODULE) == "westeurope"


def test_location_precedence_var_then_files_then_env(tmp_path: Path) -> None:
    first = tmp_path / "a.tfvars"
    first.write_text('prefix = "x"\nlocation = "northeurope" # comment\n')
    second = tmp_path / "b.tfvars.json"
    second.write_text(json.dumps({"location": "eastus2"}))
    no_location = tmp_path / "c.tfvars"
    no_location.write_text('prefix = "y"\n')
    env = {"TF_VAR_location": "uksouth"}
    assert pf.resolve_location({"location": "swedencentral"}, [first, second], env, MODULE) == \
        "swedencentral"
    assert pf.resolve_location({}, [first, second, no_location], env, MODULE) == "eastus2"
    assert pf.resolve_location({}, [second, first], env, MODULE) == "northeurope"
    assert pf.resolve_location({}, [no_location], env, MODULE) == "uksouth"


def test_the_example_tfvars_location_is_found() -> None:
    assert pf.resolve_location({}, [MODULE / "terraform.tfvars.example"], {}, MODULE) == \
        "westeurope"
