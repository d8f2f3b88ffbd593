"""Role definitions and role assignments through azure-mgmt-authorization, as plain values."""

from __future__ import annotations

import uuid
from urllib.parse import quote
from typing import Any

from ...core.errors import AzureForbidden, AzureNotFound
from ...core.models import (
    PermissionBlock,
    RoleAssignment,
    RoleDefinition,
    role_guid,
    same_scope,
)
from ...core.names import is_guid
from .clients import AzureClients
from .errors import azure_errors


AUTHORIZATION_API = "2022-04-01"  # azure-mgmt-authorization 4.x's default


def assignment_from_json(item: dict[str, Any]) -> RoleAssignment:
    props = item.get("properties") or {}
    return RoleAssignment(str(item.get("id") or ""), str(props.get("scope") or ""),
                          role_guid(str(props.get("roleDefinitionId") or "")),
                          str(props.get("principalId") or ""))


def _assignment(model: Any) -> RoleAssignment:
    return RoleAssignment(model.id, model.scope, role_guid(model.role_definition_id),
                          model.principal_id)


def _subscription_of(scope: str) -> str | None:
    parts = scope.strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[0].lower() == "subscriptions" else None


class Rbac:
    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients

    def _api(self, scope: str) -> Any:
        sub = _subscription_of(scope)
        return (self.clients.for_subscription(sub) if sub else self.clients).authorization

    def role(self, role: str, scope: str) -> RoleDefinition | None:
        """A role definition by GUID or by name, as seen at ``scope`` (custom roles count)."""
        rds = self._api(scope).role_definitions
        doing = f"looking up role {role!r} at {scope}"
        if is_guid(role):
            try:
                with azure_errors(doing):
                    rd = rds.get(scope, role)
            except AzureNotFound:
                return None
            return RoleDefinition(rd.id, rd.role_name)
        quoted = role.replace("'", "''")
        with azure_errors(doing):
            found = list(rds.list(scope, filter=f"roleName eq '{quoted}'"))
        return RoleDefinition(found[0].id, found[0].role_name) if found else None

    def assignments(self, principal_id: str, scope: str) -> list[RoleAssignment]:
        """The principal's assignments at ``scope`` exactly (not inherited, not below)."""
        with azure_errors(f"listing role assignments at {scope}"):
            found = list(self._api(scope).role_assignments.list_for_scope(
                scope, filter=f"principalId eq '{principal_id}'"))
        return [_assignment(ra) for ra in found if same_scope(ra.scope, scope)]

    def _list(self, subscription: str, query: str, doing: str) -> list[RoleAssignment]:
        url = (f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleAssignments"
               f"?api-version={AUTHORIZATION_API}{query}")
        with azure_errors(doing):
            return [assignment_from_json(i) for i in
                    self.clients.for_subscription(subscription).list_json(url)]

    def assignments_of(self, principal_id: str, subscription: str) -> list[RoleAssignment]:
        """Every assignment of the principal in the subscription (at it and below)."""
        return self._list(subscription, f"&$filter={quote(f'assignedTo({principal_id!r})')}",
                          f"listing the role assignments of {principal_id}")

    def all_assignments(self, subscription: str) -> list[RoleAssignment]:
        """Every assignment in the subscription (a few pages; cheaper than one list per
        principal when many principals are asked about)."""
        return self._list(subscription, "", "listing the subscription's role assignments")

    def role_name(self, guid: str, subscription: str) -> str:
        api = self.clients.for_subscription(subscription).authorization
        with azure_errors("reading a role definition"):
            return str(api.role_definitions.get(f"/subscriptions/{subscription}", guid).role_name)

    def assign(self, role: RoleDefinition, principal_id: str, scope: str) -> None:
        from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

        # principalType avoids PrincipalNotFound while a new identity replicates (azure-cli#8530)
        params = RoleAssignmentCreateParameters(role_definition_id=role.id,
                                                principal_id=principal_id,
                                                principal_type="ServicePrincipal")
        with azure_errors(f"assigning {role.name} at {scope}"):
            self._api(scope).role_assignments.create(scope, str(uuid.uuid4()), params)

    def unassign(self, assignment: RoleAssignment, role_name: str) -> None:
        try:
            with azure_errors(f"removing {role_name} at {assignment.scope}"):
                self._api(assignment.scope).role_assignments.delete_by_id(assignment.id)
        except AzureNotFound:
            pass  # already gone: what was asked for is done

    def permissions(self, scope: str) -> list[PermissionBlock] | None:
        """The operator's permission blocks at ``scope`` (a subscription, resource group or
        resource: ARM's permissions API at {scope}/providers/Microsoft.Authorization/permissions),
        or None when ARM will not say (403/404, or a scope above subscriptions)."""
        from .preflight import permissions_at

        sub = _subscription_of(scope)
        if not sub:
            return None
        try:
            return permissions_at(self.clients.for_subscription(sub), scope)
        except (AzureForbidden, AzureNotFound):
            return None
