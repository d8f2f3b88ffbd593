"""The rbac layer's check on plain values: the role assignments ARM lists for each identity's
principal."""

from __future__ import annotations

from checkrun import commands, covers, one, run
from values import (
    CLUSTER,
    NS,
    PRINCIPAL_ID,
    RG,
    SA,
    SUBSCRIPTION,
    aks,
    identity,
    pod,
    service_account,
)
from wi_cli.core.models import RoleAssignment, Status
from wi_cli.doctor.facts import Scope

READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SUB_SCOPE = f"/subscriptions/{SUBSCRIPTION}"
VAULT = f"{SUB_SCOPE}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/kv-app"


def assignment(scope: str, role: str) -> RoleAssignment:
    return RoleAssignment(f"{scope}/providers/Microsoft.Authorization/roleAssignments/"
                          f"a-{role[:8]}", scope, role, PRINCIPAL_ID)


def bound(assignments: list[RoleAssignment], **facts):
    return {"service_accounts": [service_account()], "pods": [pod()],
            "identities": [identity()], "role_assignments": {PRINCIPAL_ID: assignments},
            **facts}


@covers("rbac.role-assignments")
def test_roles_are_named_with_their_scopes() -> None:
    facts = bound([assignment(VAULT, SECRETS_USER),
                   assignment(f"{SUB_SCOPE}/resourceGroups/rg-data", READER),
                   assignment(SUB_SCOPE, READER)],
                  role_names={READER: "Storage Blob Data Reader",
                              SECRETS_USER: "Key Vault Secrets User"})
    f = one(run("rbac.role-assignments", **facts))
    assert f.status == Status.OK
    assert f.evidence.actual == ["Key Vault Secrets User on vaults kv-app",
                                 "Storage Blob Data Reader on resource group rg-data",
                                 "Storage Blob Data Reader on the subscription"]
    assert f.summary.startswith(f"{NS}/{SA}: id-app has Key Vault Secrets User on vaults kv-app;")


def test_roles_without_their_names_show_the_role_guid() -> None:
    # role_names could not be read: the default (None) is passed
    f = one(run("rbac.role-assignments", **bound([assignment(SUB_SCOPE, READER)])))
    assert f.status == Status.OK and f"{READER} on the subscription" in f.summary


@covers("rbac.role-assignments", 21)
def test_identity_without_roles_warns_with_the_grant_commands() -> None:
    f = one(run("rbac.role-assignments", **bound([])))
    assert f.status == Status.WARN
    assert f"id-app has no role assignment in subscription {SUBSCRIPTION}" in f.summary
    assert "403 AuthorizationFailed" in f.summary
    assert f.evidence.expected == f"at least one role assignment for principal {PRINCIPAL_ID}"
    assert commands(f) == [
        f"wi bind {SA} id-app -n {NS} --role ROLE --scope SCOPE",
        f"az role assignment create --assignee-object-id {PRINCIPAL_ID} "
        "--assignee-principal-type ServicePrincipal --role ROLE --scope SCOPE"]


def test_grant_command_names_the_cluster_doctor_was_pointed_at() -> None:
    f = one(run("rbac.role-assignments", scope=Scope(NS, cluster=CLUSTER, resource_group=RG),
                aks=aks(), **bound([])))
    assert commands(f)[0] == (f"wi bind {SA} id-app -n {NS} --cluster {CLUSTER} -g {RG} "
                              "--role ROLE --scope SCOPE")


def test_role_assignments_report_nothing_for_an_unresolved_client_id() -> None:
    # the service account names CLIENT_ID, but no identity of the subscription has it
    assert run("rbac.role-assignments", **bound([], identities=[])) == []
