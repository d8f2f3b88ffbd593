"""Doctor checks of the rbac layer: can the identity behind each service account do anything
once Entra has given it a token?"""

from __future__ import annotations

from ...core.config import Settings
from ...core.models import RoleAssignment
from ..credentials import bind_command, named_cluster
from ..facts import Scope
from ..facts.cluster import AksRecord
from ..facts.identities import Binding
from ..registry import Report, check
from ..targets import of_binding
from .identity import resolved

DOCS = "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting"


def scope_label(scope: str, subscription: str) -> str:
    parts = scope.rstrip("/").split("/")
    if scope.rstrip("/").lower() == f"/subscriptions/{subscription}".lower():
        return "the subscription"
    if len(parts) == 5 and parts[3].lower() == "resourcegroups":
        return f"resource group {parts[4]}"
    if len(parts) >= 9:
        return f"{parts[-2]} {parts[-1]}"
    return scope


@check("rbac.role-assignments", "Identity has role assignments", layer="rbac",
       failure_modes=(21,), docs=DOCS)
def role_assignments_check(report: Report, bindings: list[Binding],
                           role_assignments: dict[str, list[RoleAssignment]], settings: Settings,
                           scope: Scope, role_names: dict[str, str] | None = None,
                           aks: AksRecord | None = None) -> None:
    subscription = settings.subscription or ""
    for b in resolved(bindings):
        assert b.identity is not None
        ident = b.identity
        report = report.about(of_binding(b))
        assignments = role_assignments.get(ident.principal_id.lower(), [])
        if assignments:
            roles = sorted(f"{(role_names or {}).get(ra.role_guid, ra.role_guid)} on "
                           f"{scope_label(ra.scope, subscription)}" for ra in assignments)
            report.ok(f"{b.label}: {ident.name} has {'; '.join(roles)}.", actual=roles)
            continue
        report.warn(f"{b.label}: {ident.name} has no role assignment in subscription "
                    f"{subscription}. The token exchange works, but every Azure call it makes "
                    "will be refused (403 AuthorizationFailed). A warning, not a failure: doctor "
                    "cannot know which resources the app needs, and roles granted in another "
                    "subscription or Key Vault access policies are not visible here.",
                    expected="at least one role assignment for principal "
                             f"{ident.principal_id}", actual=[],
                    fix="Grant the identity the data-plane role the app needs, at the narrowest "
                        "scope (e.g. Key Vault Secrets User on the vault).",
                    commands=[f"{bind_command(b, cluster=named_cluster(aks, scope))} --role ROLE "
                              "--scope SCOPE",
                              f"az role assignment create --assignee-object-id "
                              f"{ident.principal_id} --assignee-principal-type ServicePrincipal "
                              "--role ROLE --scope SCOPE"])
