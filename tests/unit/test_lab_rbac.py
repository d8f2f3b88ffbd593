"""The lab's RBAC evaluation (NOTES.md §4 rules) on plain data."""

from __future__ import annotations

import pytest

from wi_cli.lab import rbac
from wi_cli.lab.azure_state import AzureState
from wi_cli.lab.rbac import Grant

SUB = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
RG = f"{SUB}/resourceGroups/rg-wi"
CLUSTER = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks1"
READER = {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}
CONTRIBUTOR = {"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Delete",
                                                "Microsoft.Authorization/*/Write",
                                                "Microsoft.Authorization/elevateAccess/Action"],
               "dataActions": [], "notDataActions": []}
KV_SECRETS_USER = {"actions": [], "notActions": [], "notDataActions": [],
                   "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                   "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]}


@pytest.mark.parametrize("pattern,action,expected", [
    ("*", "Microsoft.Authorization/roleAssignments/write", True),
    ("*/read", "Microsoft.ContainerService/managedClusters/read", True),
    ("*/read", "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", False),
    ("*/READ", "microsoft.containerservice/managedclusters/read", True),
    ("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", True),
    ("Microsoft.Network/*/read", "Microsoft.Network/virtualNetworks/subnets/read", True),
    ("Microsoft.Network/*/read", "Microsoft.Compute/virtualMachines/read", False),
    ("Microsoft.Compute/*", "Microsoft.Compute/virtualMachines/start/action", True),
    ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/read/x", False),
    ("Microsoft.Storage/a.b/read", "Microsoft.Storage/aXb/read", False),  # '.' is literal
])
def test_action_matching(pattern: str, action: str, expected: bool) -> None:
    assert rbac.action_matches(pattern, action) is expected


def test_not_actions_exclude_within_the_block() -> None:
    assert rbac.block_allows(CONTRIBUTOR, "Microsoft.ManagedIdentity/userAssignedIdentities/write")
    assert not rbac.block_allows(CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/write")
    assert not rbac.block_allows(CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/delete")
    assert rbac.block_allows(CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/read")


def test_not_actions_are_not_a_deny_across_roles() -> None:
    grants = [Grant(SUB, (CONTRIBUTOR,)),
              Grant(RG, ({"actions": ["Microsoft.Authorization/roleAssignments/write"]},))]
    action = "Microsoft.Authorization/roleAssignments/write"
    assert rbac.allowed(grants, action, CLUSTER)
    assert not rbac.allowed(grants, action, SUB)  # the second grant does not reach up


def test_actions_and_data_actions_are_separate() -> None:
    owner = Grant("/", ({"actions": ["*"]},))
    secret = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
    assert not rbac.allowed([owner], secret, RG, data=True)
    kv = Grant(RG, (KV_SECRETS_USER,))
    assert rbac.allowed([kv], secret, RG + "/providers/Microsoft.KeyVault/vaults/kv1", data=True)
    assert not rbac.allowed([kv], secret, RG, data=False)
    assert not rbac.allowed([kv], "Microsoft.KeyVault/vaults/read", RG)


@pytest.mark.parametrize("assigned,scope,expected", [
    ("/", CLUSTER, True),
    (SUB, SUB, True),
    (SUB, CLUSTER, True),
    (SUB.upper(), CLUSTER, True),
    (SUB + "/", RG, True),
    ("/subscriptions/00000000-0000-0000-0000-0000000000a", SUB, False),  # prefix, not a segment
    (RG, SUB, False),
    (RG, f"{SUB}/resourceGroups/rg-wi2", False),
    (CLUSTER, RG, False),
])
def test_scope_inheritance_by_whole_segments(assigned: str, scope: str, expected: bool) -> None:
    assert rbac.scope_covers(assigned, scope) is expected


def test_effective_blocks_union_kept_separate_and_unexpanded() -> None:
    grants = [Grant(SUB, (READER,)), Grant(RG, (KV_SECRETS_USER,)), Grant(CLUSTER, (CONTRIBUTOR,)),
              Grant(RG, (READER,))]
    blocks = rbac.effective_blocks(grants, RG)
    assert blocks == [READER, KV_SECRETS_USER]  # the cluster's grant is below; Reader only once
    assert rbac.effective_blocks(grants, SUB) == [READER]
    assert rbac.effective_blocks([], RG) == []


def test_state_adapters_use_role_definitions() -> None:
    state = AzureState()
    state.add_role_assignment(RG, "Reader", "p1")
    state.add_role_assignment(SUB, "Key Vault Secrets User", "p1")
    assert rbac.allowed_in_state(state, "p1", "Microsoft.ContainerService/managedClusters/read",
                                 CLUSTER)
    assert not rbac.allowed_in_state(state, "p1", "Microsoft.ContainerService/managedClusters/read",
                                     SUB)
    assert not rbac.allowed_in_state(state, "p2", "Microsoft.ContainerService/managedClusters/read",
                                     CLUSTER)
    assert rbac.effective_blocks_in_state(state, "P1", RG)[0]["actions"] == ["*/read"]
    assert rbac.has_any_assignment_under(state, "p1", SUB)
    assert not rbac.has_any_assignment_under(state, "p1", "/subscriptions/other")
