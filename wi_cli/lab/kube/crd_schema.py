"""Structural schemas of CustomResourceDefinitions (apiextensions.k8s.io/v1): whether a CRD's
``openAPIV3Schema`` is structural, and a custom object's values checked against it, with the
API server's field paths and words (422 Invalid).

References: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/
custom-resource-definitions/#specifying-a-structural-schema (every node has a ``type``, except
under ``x-kubernetes-int-or-string`` / ``x-kubernetes-preserve-unknown-fields``; ``metadata``
may only restrict ``name`` and ``generateName``), and kube-openapi's validate errors
(``spec.x in body must be of type integer: "string"``). Unknown fields are pruned by
``openapi.check_fields`` with the published schema (``fieldValidation`` Strict/Warn/Ignore).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import Cause

Schema = dict[str, Any]

_TYPES = ("object", "array", "string", "integer", "number", "boolean")


def type_name(value: Any) -> str:
    """The JSON type of a decoded value, as the validator names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fits(schema: Schema, value: Any) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return type_name(value) in ("integer", "string")
    wanted = schema.get("type")
    if not wanted:
        return True
    got = type_name(value)
    return got == wanted or (wanted == "number" and got == "integer")


def _type_cause(schema: Schema, value: Any, path: str) -> Cause:
    wanted = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema["type"]
    got = type_name(value)
    return Cause("FieldValueInvalid", path, f'{path} in body must be of type {wanted}: "{got}"',
                 got)


def value_causes(schema: Schema | None, value: Any, path: str) -> list[Cause]:
    """What is wrong with ``value`` at ``path`` under ``schema`` (type, nullable, enum,
    required, bounds, pattern), depth first."""
    if not schema:
        return []
    if value is None:
        if schema.get("nullable") or not (schema.get("type")
                                          or schema.get("x-kubernetes-int-or-string")):
            return []
        return [_type_cause(schema, value, path)]
    if not _fits(schema, value):
        return [_type_cause(schema, value, path)]
    causes: list[Cause] = []
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        listed = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in enum)
        causes.append(Cause("FieldValueNotSupported", path, f"supported values: {listed}",
                            value))
    causes += _bounds(schema, value, path)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key in schema.get("required") or []:
            if key not in value:
                causes.append(Cause("FieldValueRequired", f"{path}.{key}" if path else key, ""))
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            where = f"{path}.{key}" if path else key
            if key in props:
                causes += value_causes(props[key], child, where)
            elif isinstance(extra, dict):
                causes += value_causes(extra, child, where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            causes += value_causes(schema["items"], item, f"{path}[{i}]")
    return causes


def _bounds(schema: Schema, value: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            causes.append(Cause("FieldValueInvalid", path, f"{path} in body should be greater "
                                f"than or equal to {schema['minimum']}", value))
        if "maximum" in schema and value > schema["maximum"]:
            causes.append(Cause("FieldValueInvalid", path, f"{path} in body should be less "
                                f"than or equal to {schema['maximum']}", value))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            causes.append(Cause("FieldValueInvalid", path, f"{path} in body should be at most "
                                f"{schema['maxLength']} chars long", value))
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, value):
            causes.append(Cause("FieldValueInvalid", path, f"{path} in body should match "
                                f"'{pattern}'", value))
    if isinstance(value, list) and "maxItems" in schema and len(value) > schema["maxItems"]:
        causes.append(Cause("FieldValueInvalid", path, f"{path} in body should have at most "
                            f"{schema['maxItems']} items", value))
    return causes


def structural_causes(schema: Any, path: str, top: bool = True) -> list[Cause]:
    """Why an ``openAPIV3Schema`` is not structural (empty when it is)."""
    if not isinstance(schema, dict):
        return [Cause("FieldValueRequired", path, "")]
    causes: list[Cause] = []
    open_node = (schema.get("x-kubernetes-int-or-string")
                 or schema.get("x-kubernetes-preserve-unknown-fields"))
    kind = schema.get("type")
    if not kind and not open_node:
        causes.append(Cause("FieldValueRequired", f"{path}.type",
                            "must not be empty at the root" if top
                            else "must not be empty for specified object fields"))
    elif kind and kind not in _TYPES:
        causes.append(Cause("FieldValueNotSupported", f"{path}.type",
                            'supported values: "array", "boolean", "integer", "number", '
                            '"object", "string"', kind))
    for key, child in (schema.get("properties") or {}).items():
        if top and key == "metadata" and isinstance(child, dict):
            extra = set(child.get("properties") or {}) - {"name", "generateName"}
            if extra:
                causes.append(Cause("FieldValueForbidden", f"{path}.properties[metadata]",
                                    "must not specify anything other than name and "
                                    "generateName, but metadata is implicitly specified"))
            continue
        causes += structural_causes(child, f"{path}.properties[{key}]", top=False)
    if isinstance(schema.get("items"), dict):
        causes += structural_causes(schema["items"], f"{path}.items", top=False)
    if isinstance(schema.get("additionalProperties"), dict):
        causes += structural_causes(schema["additionalProperties"],
                                    f"{path}.additionalProperties", top=False)
    return causes
