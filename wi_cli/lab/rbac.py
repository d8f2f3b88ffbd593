"""Azure RBAC evaluation, as ARM does it (NOTES.md §4): pure functions over plain data.

* An action pattern's ``*`` matches any run of characters, ``/`` included; comparison ignores case.
* A permission block allows an operation when an ``actions`` pattern matches and no ``notActions``
  pattern of *the same block* does (``dataActions``/``notDataActions`` for data operations).
* Across blocks and roles the result is the union: ``notActions`` is not a deny.
* An assignment at scope S applies to S and every descendant, matched by path segments.

The core works on :class:`Grant` (a scope and its permission blocks) so it can be benchmarked
without an :class:`~wi_cli.lab.azure_state.AzureState`; the ``*_in_state`` helpers adapt it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    from .azure_state import AzureState

PermissionBlock = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Grant:
    """One role assignment reduced to what evaluation needs."""

    scope: str
    permissions: tuple[PermissionBlock, ...]


@lru_cache(maxsize=4096)
def _pattern(action_pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in action_pattern.split("*"))
    return re.compile(".*".join(parts) + r"\Z", re.IGNORECASE | re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Does an ``actions``/``notActions`` entry cover ``action``? (``*`` spans ``/``, any case)."""
    return _pattern(pattern).match(action) is not None


def block_allows(block: PermissionBlock, action: str, data: bool = False) -> bool:
    allow_key, deny_key = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    if not any(action_matches(p, action) for p in block.get(allow_key) or ()):
        return False
    return not any(action_matches(p, action) for p in block.get(deny_key) or ())


def normalize_scope(scope: str) -> str:
    """Lower-case, one leading slash, no trailing slash; the root scope is ``/``."""
    segments = [s for s in scope.strip().split("/") if s]
    return "/" + "/".join(segments).lower()


def scope_covers(assignment_scope: str, scope: str) -> bool:
    """Is ``scope`` the assignment's scope or one of its descendants (by whole segments)?"""
    parent, child = normalize_scope(assignment_scope), normalize_scope(scope)
    if parent == "/":
        return True
    return child == parent or child.startswith(parent + "/")


def allowed(grants: Iterable[Grant], action: str, scope: str, data: bool = False) -> bool:
    """May a principal holding ``grants`` perform ``action`` at ``scope``?"""
    for grant in grants:
        if scope_covers(grant.scope, scope) and any(
            block_allows(b, action, data) for b in grant.permissions
        ):
            return True
    return False


def effective_blocks(grants: Iterable[Grant], scope: str) -> list[dict[str, list[str]]]:
    """The permissions endpoint's answer: every block that applies at ``scope``, kept separate,
    wildcards not expanded (duplicates of the same role at several scopes collapse)."""
    seen: set[tuple[tuple[str, ...], ...]] = set()
    out: list[dict[str, list[str]]] = []
    for grant in grants:
        if not scope_covers(grant.scope, scope):
            continue
        for block in grant.permissions:
            body = {k: list(block.get(k) or []) for k in
                    ("actions", "notActions", "dataActions", "notDataActions")}
            key = tuple(tuple(v) for v in body.values())
            if key not in seen:
                seen.add(key)
                out.append(body)
    return out


# -- adapters over the lab's state ---------------------------------------------------------------
def grants_in_state(state: "AzureState", principal_id: str) -> list[Grant]:
    """The principal's direct role assignments as grants (the lab has no groups)."""
    with state.lock:
        grants = []
        for ra in state.assignments_for(principal_id):
            rd = state.role_definitions.get(ra.role_guid)
            if rd is not None:
                grants.append(Grant(ra.scope, tuple(rd.permissions)))
        return grants


def allowed_in_state(state: "AzureState", principal_id: str, action: str, scope: str,
                     data: bool = False) -> bool:
    return allowed(grants_in_state(state, principal_id), action, scope, data)


def effective_blocks_in_state(state: "AzureState", principal_id: str,
                              scope: str) -> list[dict[str, list[str]]]:
    return effective_blocks(grants_in_state(state, principal_id), scope)


def has_any_assignment_under(state: "AzureState", principal_id: str, scope: str) -> bool:
    """Any assignment at, above or below ``scope``? (what makes a subscription visible)."""
    return any(scope_covers(ra.scope, scope) or scope_covers(scope, ra.scope)
               for ra in state.assignments_for(principal_id))
