"""The OData ``$filter`` of Microsoft.Authorization lists (role assignments, role definitions):
the clauses ARM accepts, joined by ``and``; anything else is 400 ``InvalidFilterParameter``."""

from __future__ import annotations

import re
from typing import Callable

from .. import rbac
from ..azure_state import RoleAssignment
from .frontdoor import ArmError

_AT_SCOPE = re.compile(r"^atScope\(\)$", re.IGNORECASE)
_PRINCIPAL = re.compile(r"^principalId\s+eq\s+'?([0-9a-fA-F-]+)'?$", re.IGNORECASE)
_ASSIGNED_TO = re.compile(r"^assignedTo\('?([0-9a-fA-F-]+)'?\)$", re.IGNORECASE)
_ROLE_NAME = re.compile(r"^roleName\s+eq\s+'(.*)'$", re.IGNORECASE)
_ROLE_TYPE = re.compile(r"^type\s+eq\s+'(BuiltInRole|CustomRole)'$", re.IGNORECASE)


def _clauses(expr: str | None) -> list[str]:
    if not expr or not expr.strip():
        return []
    return [c.strip() for c in re.split(r"\s+and\s+", expr.strip(), flags=re.IGNORECASE)]


def _invalid_filter(expr: str) -> ArmError:
    return ArmError(400, "InvalidFilterParameter", f"The filter '{expr}' is not supported.")


def parse_assignment_filter(expr: str | None, scope: str) -> Callable[[RoleAssignment], bool]:
    """Which assignments a role-assignment list returns (NOTES.md §4 filter semantics):
    no filter or a principal filter: at, above and below the scope; ``atScope()``: at or above;
    ``principalId eq`` / ``assignedTo()`` (the lab has no groups): that principal's only."""
    at_scope = False
    principals: list[str] = []
    for clause in _clauses(expr):
        if _AT_SCOPE.match(clause):
            at_scope = True
        elif m := (_PRINCIPAL.match(clause) or _ASSIGNED_TO.match(clause)):
            principals.append(m.group(1).lower())
        else:
            raise _invalid_filter(expr or "")

    def keep(ra: RoleAssignment) -> bool:
        above = rbac.scope_covers(ra.scope, scope)
        if at_scope and not above:
            return False
        if not at_scope and not (above or rbac.scope_covers(scope, ra.scope)):
            return False
        return all(ra.principal_id.lower() == p for p in principals)
    return keep


def parse_definition_filter(expr: str | None) -> Callable[[str, str], bool]:
    name: str | None = None
    rtype: str | None = None
    for clause in _clauses(expr):
        if m := _ROLE_NAME.match(clause):
            name = m.group(1).replace("''", "'")
        elif m := _ROLE_TYPE.match(clause):
            rtype = m.group(1)
        elif clause.lower() in ("atscopeandbelow()",):
            continue
        else:
            raise _invalid_filter(expr or "")

    def keep(role_name: str, role_type: str) -> bool:
        return ((name is None or role_name.lower() == name.lower())
                and (rtype is None or role_type.lower() == rtype.lower()))
    return keep
