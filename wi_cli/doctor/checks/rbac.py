"""Doctor checks of the rbac layer: can the identity behind each service account do anything
once Entra has given it a token?"""

from __future__ import annotations

from typing import Any

from ...adapters.azure.errors import azure_errors
from ..facts import Facts, fact
from ..registry import Report, check
from .identity import Binding, bind_command, resolved

DOCS = "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting"
# above this many identities in scope, one subscription-wide list (a few pages) is cheaper than
# one filtered list per identity
PER_IDENTITY_LISTS_UP_TO = 20


@fact("assignments_by_principal")
def assignments_by_principal(facts: Facts) -> dict[str, list[Any]]:
    """Role assignments (subscription and below) of the identities in scope, by principalId."""
    principals = {b.identity.principal_id.lower() for b in resolved(facts)}
    if len(principals) <= PER_IDENTITY_LISTS_UP_TO:
        return facts["role_assignments"]
    azure = facts.ctx.azure
    with azure_errors("listing the subscription's role assignments"):
        everything = list(azure.authorization.role_assignments.list_for_subscription())
    out: dict[str, list[Any]] = {p: [] for p in principals}
    for ra in everything:
        if (ra.principal_id or "").lower() in out:
            out[ra.principal_id.lower()].append(ra)
    return out


@fact("assignment_role_names")
def assignment_role_names(facts: Facts) -> dict[str, str]:
    """Role definition GUID → role name, for the roles assigned to the identities in scope."""
    azure = facts.ctx.azure
    guids = sorted({_guid(ra) for ras in facts["assignments_by_principal"].values()
                    for ra in ras})

    def name_of(guid: str) -> tuple[str, str]:
        with azure_errors("reading a role definition"):
            rd = azure.authorization.role_definitions.get(
                f"/subscriptions/{azure.subscription_id}", guid)
            return guid, rd.role_name

    return dict(facts.map(name_of, guids))


def _guid(ra: Any) -> str:
    return ra.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _scope_label(scope: str, subscription: str) -> str:
    parts = scope.rstrip("/").split("/")
    if scope.rstrip("/").lower() == f"/subscriptions/{subscription}".lower():
        return "the subscription"
    if len(parts) == 5 and parts[3].lower() == "resourcegroups":
        return f"resource group {parts[4]}"
    if len(parts) >= 9:
        return f"{parts[-2]} {parts[-1]}"
    return scope


def _roles(facts: Facts, assignments: list[Any]) -> list[str]:
    names = facts.get("assignment_role_names") or {}
    subscription = facts.ctx.azure.subscription_id
    out = []
    for ra in assignments:
        guid = _guid(ra)
        out.append(f"{names.get(guid, guid)} on {_scope_label(ra.scope, subscription)}")
    return sorted(out)


@check("rbac.role-assignments", "Identity has role assignments", layer="rbac",
       needs=("bindings", "assignments_by_principal", "assignment_role_names"),
       failure_modes=(21,), docs=DOCS)
def role_assignments(facts: Facts, report: Report) -> None:
    by_principal = facts["assignments_by_principal"]
    for b in resolved(facts):
        assignments = by_principal.get(b.identity.principal_id.lower(), [])
        if not assignments:
            _report_none(facts, report, b)
            continue
        roles = _roles(facts, assignments)
        report.ok(f"{b.label}: {b.identity.name} has {'; '.join(roles)}.", actual=roles)


def _report_none(facts: Facts, report: Report, b: Binding) -> None:
    ident = b.identity
    subscription = facts.ctx.azure.subscription_id
    report.warn(f"{b.label}: {ident.name} has no role assignment in subscription "
                f"{subscription}. The token exchange works, but every Azure call it makes will "
                "be refused (403 AuthorizationFailed). A warning, not a failure: doctor cannot "
                "know which resources the app needs, and roles granted in another "
                "subscription or Key Vault access policies are not visible here.",
                expected="at least one role assignment for principal "
                         f"{ident.principal_id}", actual=[],
                fix="Grant the identity the data-plane role the app needs, at the narrowest "
                    "scope (e.g. Key Vault Secrets User on the vault).",
                commands=[f"{bind_command(facts, b)} --role ROLE --scope SCOPE",
                          f"az role assignment create --assignee-object-id {ident.principal_id} "
                          "--assignee-principal-type ServicePrincipal --role ROLE --scope SCOPE"])
