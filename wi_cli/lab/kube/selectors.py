"""labelSelector and fieldSelector, parsed and matched as the API server does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ApiError

# --- label selectors -------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        # "!=" and "notin" match objects without the label too
        return not present or value not in self.values


LabelSelector = list[Requirement]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_label_selector(text: str | None) -> LabelSelector:
    if not text or not text.strip():
        return []
    requirements: LabelSelector = []
    for part in _split_top_level(text):
        m = _EQ_RE.match(part)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            requirements.append(Requirement(m.group(1), op, (m.group(3),)))
            continue
        m = _SET_RE.match(part)
        if m and not (m.group(1) and m.group(3)):
            negated, key, op, values = m.groups()
            if op:
                vals = tuple(v.strip() for v in values.split(",") if v.strip())
                requirements.append(Requirement(key, op, vals))
            else:
                requirements.append(Requirement(key, "!exists" if negated else "exists"))
            continue
        raise ApiError(400, "BadRequest",
                       f"unable to parse requirement: found '{part.strip()}', expected: "
                       f"'=', '!=', '==', 'in', notin'")
    return requirements


def labels_match(selector: LabelSelector, obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in selector)


def match_label_selector_object(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector object (matchLabels / matchExpressions), as webhooks use it."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or []:
        req = Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ()))
        if not req.matches(labels):
            return False
    return True


# --- field selectors -------------------------------------------------------------------------

FieldGetter = Callable[[dict[str, Any]], str]


def _path(*keys: str) -> FieldGetter:
    def get(obj: dict[str, Any]) -> str:
        cur: Any = obj
        for k in keys:
            cur = cur.get(k) if isinstance(cur, dict) else None
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return "" if cur is None else str(cur)
    return get


_COMMON: dict[str, FieldGetter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}

FIELD_LABELS: dict[str, dict[str, FieldGetter]] = {
    "pods": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "events": {
        "involvedObject.kind": _path("involvedObject", "kind"),
        "involvedObject.namespace": _path("involvedObject", "namespace"),
        "involvedObject.name": _path("involvedObject", "name"),
        "involvedObject.uid": _path("involvedObject", "uid"),
        "involvedObject.apiVersion": _path("involvedObject", "apiVersion"),
        "involvedObject.resourceVersion": _path("involvedObject", "resourceVersion"),
        "involvedObject.fieldPath": _path("involvedObject", "fieldPath"),
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    "secrets": {"type": _path("type")},
    "namespaces": {"status.phase": _path("status", "phase")},
    "nodes": {"spec.unschedulable": _path("spec", "unschedulable")},
    "replicasets": {"status.replicas": _path("status", "replicas")},
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str
    getter: FieldGetter

    def matches(self, obj: dict[str, Any]) -> bool:
        equal = self.getter(obj) == self.value
        return equal if self.op == "=" else not equal


FieldSelector = list[FieldRequirement]


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(plural: str, text: str | None) -> FieldSelector:
    if not text or not text.strip():
        return []
    supported = {**_COMMON, **FIELD_LABELS.get(plural, {})}
    out: FieldSelector = []
    for part in re.split(r"(?<!\\),", text):
        if not part.strip():
            continue
        m = re.match(r"^\s*([^!=\s]+)\s*(==|!=|=)(.*)$", part)
        if not m:
            raise ApiError(400, "BadRequest",
                           f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1), m.group(2), _unescape(m.group(3).strip())
        if field not in supported:
            raise ApiError(400, "BadRequest", f"field label not supported: {field}")
        out.append(FieldRequirement(field, "!=" if op == "!=" else "=", value, supported[field]))
    return out


def fields_match(selector: FieldSelector, obj: dict[str, Any]) -> bool:
    return all(r.matches(obj) for r in selector)
