"""Microsoft.Authorization at any scope: role assignments (list, get, create, delete), role
definitions (list, get) and the caller's effective permissions."""

from __future__ import annotations

import re
from typing import Any

from .. import rbac
from ..azure_state import RoleAssignment
from ..http import Response, json_response
from .frontdoor import (AddRoute, Arm, ArmError, Call, by_method, iso, json_body, rg_of_scope,
                        sub_of_scope)
from .paging import page
from .role_filters import parse_assignment_filter, parse_definition_filter

RA = "Microsoft.Authorization/roleAssignments"
RD = "Microsoft.Authorization/roleDefinitions"
PERMS = "Microsoft.Authorization/permissions"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_AUTHZ = r"(?P<scope>(?:/[^/]+)*?)/providers/Microsoft\.Authorization"


def _scope(call: Call) -> str:
    return call.req.params.get("scope") or "/"


def _rd_prefix(scope: str) -> str:
    sub = sub_of_scope(scope)
    return f"/subscriptions/{sub}" if sub else ""


class Authorization:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.state = arm.state

    def routes(self, add: AddRoute) -> None:
        add("GET", _AUTHZ + r"/roleAssignments", "authorization", self.list_role_assignments)
        add("*", _AUTHZ + r"/roleAssignments/(?P<name>[^/]+)", "authorization",
            self.role_assignment)
        add("GET", _AUTHZ + r"/roleDefinitions", "authorization", self.list_role_definitions)
        add("GET", _AUTHZ + r"/roleDefinitions/(?P<name>[^/]+)", "authorization",
            self.get_role_definition)
        add("GET", _AUTHZ + r"/permissions", "authorization", self.list_permissions)

    def _require_scope_exists(self, scope: str) -> None:
        sub, rg = sub_of_scope(scope), rg_of_scope(scope)
        if sub and rg:
            self.arm.require_rg(sub, rg)

    # ----------------------------------------------------------------------------- role assignments
    def assignment_body(self, ra: RoleAssignment) -> dict[str, Any]:
        return {
            "id": ra.id,
            "name": ra.name,
            "type": RA,
            "properties": {
                "roleDefinitionId": ra.role_definition_id,
                "principalId": ra.principal_id,
                "principalType": ra.principal_type,
                "scope": ra.scope,
                "condition": None,
                "conditionVersion": None,
                "description": ra.description,
                "createdOn": iso(ra.created_on),
                "updatedOn": iso(ra.created_on),
                "createdBy": None,
                "updatedBy": None,
                "delegatedManagedIdentityResourceId": None,
            },
        }

    def list_role_assignments(self, call: Call) -> Response:
        scope = _scope(call)
        with self.state.lock:
            self.arm.authorize(call, f"{RA}/read", scope)
            self._require_scope_exists(scope)
            keep = parse_assignment_filter(call.req.arg_ci("$filter"), scope)
            items = [self.assignment_body(ra) for ra in
                     sorted(self.state.role_assignments.values(), key=lambda r: (r.scope.lower(), r.name))
                     if keep(ra)]
        return page(call, items, self.state.page_size, "$skipToken")

    def role_assignment(self, call: Call) -> Response:
        return by_method(call, GET=self._get_role_assignment, PUT=self._put_role_assignment,
                         DELETE=self._delete_role_assignment)

    def _assignment_at(self, scope: str, name: str) -> RoleAssignment | None:
        ra = self.state.role_assignments.get(name.lower())
        if ra is not None and rbac.normalize_scope(ra.scope) == rbac.normalize_scope(scope):
            return ra
        return None

    def _get_role_assignment(self, call: Call) -> Response:
        scope, name = _scope(call), call.req.params["name"]
        with self.state.lock:
            self.arm.authorize(call, f"{RA}/read", scope)
            ra = self._assignment_at(scope, name)
            if ra is None:
                raise ArmError(404, "RoleAssignmentNotFound",
                               f"The role assignment '{name}' is not found.")
            return json_response(200, self.assignment_body(ra))

    def _put_role_assignment(self, call: Call) -> Response:
        scope, name = _scope(call), call.req.params["name"]
        props = json_body(call).get("properties") or {}
        with self.state.lock:
            self.arm.authorize(call, f"{RA}/write", scope)
            self._require_scope_exists(scope)
            if not GUID.match(name):
                raise ArmError(400, "InvalidRoleAssignmentId",
                               f"The role assignment ID '{name}' is not valid. The role assignment "
                               "ID must be a GUID.")
            rd_id, principal_id = props.get("roleDefinitionId"), props.get("principalId")
            if not isinstance(rd_id, str) or not isinstance(principal_id, str):
                raise ArmError(400, "InvalidRoleAssignmentRequest",
                               "The request must include properties.roleDefinitionId and "
                               "properties.principalId.")
            rd_guid = rd_id.rstrip("/").rsplit("/", 1)[-1]
            if rd_guid.lower() not in self.state.role_definitions:
                raise ArmError(400, "RoleDefinitionDoesNotExist",
                               f"The specified role definition with ID '{rd_guid}' does not exist.")
            principal_type = self._check_principal(call, principal_id, props.get("principalType"))
            sub = sub_of_scope(scope)
            rd_full = (f"/subscriptions/{sub}/providers/{RD}/{rd_guid}" if sub
                       else f"/providers/{RD}/{rd_guid}")
            existing = self.state.role_assignments.get(name.lower())
            if existing is not None:
                return _repeat_put(existing, scope, rd_guid, principal_id)
            for ra in self.state.role_assignments.values():
                if (ra.role_guid == rd_guid.lower() and ra.principal_id.lower() == principal_id.lower()
                        and rbac.normalize_scope(ra.scope) == rbac.normalize_scope(scope)):
                    raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
            ra = RoleAssignment(name, scope, rd_full, principal_id, principal_type,
                                props.get("description"))
            self.state.role_assignments[name.lower()] = ra
            return json_response(201, self.assignment_body(ra))

    def _check_principal(self, call: Call, principal_id: str, principal_type: Any) -> str:
        """ARM looks the principal up in the directory unless principalType is given (the
        documented workaround for replication delay); a known principal must match the type."""
        sp = self.state.principal_by_object_id(principal_id)
        if sp is None:
            if not principal_type:
                raise ArmError(
                    400, "PrincipalNotFound",
                    f"Principal {principal_id.replace('-', '')} does not exist in the directory "
                    f"{call.tid}. Check that you have the correct principal ID. If you are "
                    "creating this principal and then immediately assigning a role, this error "
                    "might be related to a replication delay. In this case, set the role "
                    "assignment principalType property to a value, such as ServicePrincipal, "
                    "User, or Group.  See https://aka.ms/docs-principaltype")
            return str(principal_type)
        if principal_type and str(principal_type) != "ServicePrincipal":
            raise ArmError(400, "UnmatchedPrincipalType",
                           f"The PrincipalId '{principal_id.replace('-', '')}' has type "
                           f"'ServicePrincipal' , which is different from specified PrincipalType "
                           f"'{principal_type}'.")
        return "ServicePrincipal"

    def _delete_role_assignment(self, call: Call) -> Response:
        scope, name = _scope(call), call.req.params["name"]
        with self.state.lock:
            self.arm.authorize(call, f"{RA}/delete", scope)
            ra = self._assignment_at(scope, name)
            if ra is None:
                return Response(204)
            del self.state.role_assignments[name.lower()]
            return json_response(200, self.assignment_body(ra))

    # ----------------------------------------------------------------------------- role definitions
    def _authorize_rd_read(self, call: Call, scope: str) -> None:
        # built-in definitions live at the tenant root and are readable by any signed-in caller
        if rbac.normalize_scope(scope) != "/":
            self.arm.authorize(call, f"{RD}/read", scope)
            self._require_scope_exists(scope)

    def get_role_definition(self, call: Call) -> Response:
        scope, name = _scope(call), call.req.params["name"]
        with self.state.lock:
            self._authorize_rd_read(call, scope)
            rd = self.state.role_definitions.get(name.lower())
            if rd is None:
                raise ArmError(404, "RoleDefinitionDoesNotExist",
                               f"The specified role definition with ID '{name}' does not exist.")
            return json_response(200, rd.body(_rd_prefix(scope)))

    def list_role_definitions(self, call: Call) -> Response:
        scope = _scope(call)
        with self.state.lock:
            self._authorize_rd_read(call, scope)
            keep = parse_definition_filter(call.req.arg_ci("$filter"))
            items = [rd.body(_rd_prefix(scope)) for rd in
                     sorted(self.state.role_definitions.values(), key=lambda r: r.role_name.lower())
                     if keep(rd.role_name, rd.role_type)]
        return page(call, items, self.state.page_size, "$skipToken")

    # ----------------------------------------------------------------------------- permissions
    def list_permissions(self, call: Call) -> Response:
        scope = _scope(call)
        with self.state.lock:
            self.arm.authorize(call, f"{PERMS}/read", scope)
            self._require_scope_exists(scope)
            blocks = rbac.effective_blocks_in_state(self.state, call.oid, scope)
        return page(call, blocks, self.state.page_size, "$skipToken")


def _repeat_put(existing: RoleAssignment, scope: str, rd_guid: str, principal_id: str) -> Response:
    same = (existing.role_guid == rd_guid.lower()
            and existing.principal_id.lower() == principal_id.lower()
            and rbac.normalize_scope(existing.scope) == rbac.normalize_scope(scope))
    if not same:
        raise ArmError(400, "RoleAssignmentUpdateNotPermitted",
                       "Tenant ID, application ID, principal ID, and scope are not allowed to "
                       "be updated.")
    raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
