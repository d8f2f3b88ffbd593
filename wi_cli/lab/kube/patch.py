"""The PATCH content types: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge
patch (lists merged by the ``x-kubernetes-patch-merge-key`` of the kind's schema, with the
``$patch``, ``$setElementOrder``, ``$retainKeys`` and ``$deleteFromPrimitiveList`` directives),
and server-side apply (treated as a strategic merge of the applied configuration)."""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, bad_request
from .resources import ResourceType
from .schemas import Schema, kind_schema, list_field, resolve

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def apply_patch(obj: dict[str, Any], patch: Any, content_type: str,
                rt: ResourceType) -> dict[str, Any]:
    content_type = content_type.split(";")[0].strip().lower()
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("json: cannot unmarshal object into Go value of type "
                              "jsonpatch.Patch")
        return json_patch(obj, patch)
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type "
                          "map[string]interface {}")
    if content_type == MERGE_PATCH:
        return merge_patch(obj, patch)
    if content_type in (STRATEGIC_PATCH, APPLY_PATCH):
        return strategic_merge(obj, patch, kind_schema(rt))
    raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {content_type}")


# -- RFC 7386 ---------------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- RFC 6902 ---------------------------------------------------------------------------------
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"the server rejected our request due to an error in our request: "
                          f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], op: str, path: str) -> tuple[Any, str]:
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise _missing(op, path)
    return cur, parts[-1]


def _missing(op: str, path: str) -> ApiError:
    return ApiError(500, "", f"{op} operation does not apply: doc is missing path: {path}: "
                             f"missing value")


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for part in _pointer(path):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise _missing("copy", path)
    return copy.deepcopy(cur)


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    parent, last = _parent(doc, _pointer(path), op, path)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _missing(op, path)


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, op, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _missing(op, path)
    else:
        raise _missing(op, path)
    return doc


def json_patch(obj: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    doc: Any = copy.deepcopy(obj)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _remove(doc, path, "replace")
            doc = _add(doc, path, copy.deepcopy(op.get("value")), "replace")
        elif kind == "move":
            doc = _add(doc, path, _remove(doc, op.get("from", ""), "move"), "move")
        elif kind == "copy":
            doc = _add(doc, path, _get(doc, op.get("from", "")), "copy")
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(500, "", f"testing value {path} failed: test failed")
        else:
            raise ApiError(500, "", f"Unexpected kind: {kind}")
    return doc


# -- strategic merge ----------------------------------------------------------------------------
def _merge_strategy(schema: Schema | None) -> tuple[str | None, bool, bool]:
    """(merge key, merge?, retainKeys?) of a list/map field's schema."""
    if schema is None:
        return None, False, False
    strategy = schema.get("x-kubernetes-patch-strategy", "")
    resolved = resolve(schema) or {}
    strategy = strategy or resolved.get("x-kubernetes-patch-strategy", "")
    parts = strategy.split(",")
    return (schema.get("x-kubernetes-patch-merge-key")
            or resolved.get("x-kubernetes-patch-merge-key"), "merge" in parts,
            "retainKeys" in parts)


def strategic_merge(original: Any, patch: Any, schema: Schema | None) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
        elif key == "$retainKeys":
            for k in list(result):
                if k not in value and k not in patch:
                    del result[k]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_value(result.get(key), value, list_field(schema, key))
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(result[field], order, list_field(schema, field))
    return result


def _merge_value(original: Any, value: Any, schema: Schema | None) -> Any:
    if isinstance(value, dict):
        return strategic_merge(original, value, schema)
    if isinstance(value, list):
        merge_key, merge, _ = _merge_strategy(schema)
        if merge and isinstance(original, list):
            items_schema = (resolve(schema) or {}).get("items") if schema else None
            if merge_key:
                return _merge_keyed_list(original, value, merge_key, items_schema)
            return original + [v for v in value if v not in original]
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    return copy.deepcopy(value)


def _merge_keyed_list(original: list[Any], patch: list[Any], key: str,
                      item_schema: Schema | None) -> list[Any]:
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            continue
        directive = item.get("$patch")
        idx = next((i for i, o in enumerate(result)
                    if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if directive == "delete":
            if idx is not None:
                result.pop(idx)
        elif directive == "replace":
            clean = {k: v for k, v in item.items() if k != "$patch"}
            if idx is None:
                result.append(clean)
            else:
                result[idx] = clean
        elif idx is None:
            result.append(_strip_directives(item))
        else:
            result[idx] = strategic_merge(result[idx], item, item_schema)
    return result


def _reorder(items: list[Any], order: list[Any], schema: Schema | None) -> list[Any]:
    merge_key, _, _ = _merge_strategy(schema)

    def key_of(v: Any) -> Any:
        return v.get(merge_key) if merge_key and isinstance(v, dict) else v

    wanted = [key_of(o) for o in order]
    ranked = [v for k in wanted for v in items if key_of(v) == k]
    return ranked + [v for v in items if key_of(v) not in wanted]
