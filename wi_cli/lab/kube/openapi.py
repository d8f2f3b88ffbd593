"""/openapi/v3 (index + one document per group-version) and server-side field validation.

kubectl reads these documents to decide whether the server validates fields itself: a PATCH
operation tagged with the kind's ``x-kubernetes-group-version-kind`` and a ``fieldValidation``
query parameter means yes, so kubectl sends ``fieldValidation=Strict`` and skips client-side
validation. /openapi/v2 is not served (404), as on a server with it disabled; kubectl then uses its
compiled-in types for strategic-merge patches.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from typing import Any

from .errors import bad_request
from .resources import GROUPS, ResourceType, TypeRegistry, resources_in
from .schemas import SCHEMAS, Schema, kind_schema, ref, resolve

_PATCH_CONTENT = ("application/apply-patch+yaml", "application/json-patch+json",
                  "application/merge-patch+json", "application/strategic-merge-patch+json")
_GIT_VERSION = "v1.33.2"


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gv_of(path: str) -> tuple[str, str] | None:
    for group, versions in GROUPS.items():
        for version in versions:
            if _gv_path(group, version) == path:
                return group, version
    return None


@functools.lru_cache(maxsize=None)
def _document_text(path: str) -> str | None:
    gv = _gv_of(path)
    if gv is None:
        return None
    return json.dumps(_build_document(*gv), sort_keys=True)


def doc_hash(path: str, types: TypeRegistry | None = None) -> str:
    text = _document_text(path) or (_custom_text(path, types) if types else None) or ""
    return hashlib.sha512(text.encode()).hexdigest()[:128].upper()


def index(types: TypeRegistry | None = None) -> dict[str, Any]:
    paths = {}
    for group, versions in GROUPS.items():
        for version in versions:
            p = _gv_path(group, version)
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={doc_hash(p)}"}
    for group, versions in (types.custom_groups() if types else {}).items():
        for version in versions:
            p = _gv_path(group, version)
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={doc_hash(p, types)}"}
    return {"paths": paths}


def document(path: str, types: TypeRegistry | None = None) -> dict[str, Any] | None:
    text = _document_text(path) or (_custom_text(path, types) if types else None)
    return None if text is None else json.loads(text)


def _custom_text(path: str, types: TypeRegistry) -> str | None:
    """The document of a group-version CRDs add (built on each read: CRDs come and go)."""
    for group, versions in types.custom_groups().items():
        for version in versions:
            if _gv_path(group, version) == path:
                return json.dumps(_build_document(group, version, types.served(group, version)),
                                  sort_keys=True)
    return None



# -- documents --------------------------------------------------------------------------------
def _op_id(verb: str, rt: ResourceType, namespaced: bool, suffix: str = "") -> str:
    group = "".join(p.capitalize() for p in (rt.group.split(".")[0] if rt.group else "core")
                    .split("-"))
    scope = "Namespaced" if namespaced else ""
    return f"{verb}{group}{rt.version.capitalize()}{scope}{rt.kind}{suffix}"


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _operation(rt: ResourceType, action: str, op_id: str, body: str | None,
               response: Schema, query: list[str]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [(rt.group.replace(".k8s.io", "").replace(".", "_") or "core") + "_"
                 + rt.version],
        "operationId": op_id,
        "parameters": [_query(q) for q in query],
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": response}}},
            "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version,
                                            "kind": rt.kind},
    }
    if body == "patch":  # custom resources take no strategic-merge patch
        op["requestBody"] = {"required": True, "content": {
            ct: {"schema": ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")}
            for ct in _PATCH_CONTENT
            if not (hasattr(rt, "schema_name") and ct.startswith("application/strategic"))}}
    elif body:
        op["requestBody"] = {"required": True, "content": {"*/*": {"schema": ref(body)}}}
    return op


def _paths_for(rt: ResourceType) -> dict[str, Any]:
    base = "/" + _gv_path(rt.group, rt.version)
    kind_ref = ref(_schema_name(rt))
    list_ref = ref(_schema_name(rt) + "List")
    write = ["dryRun", "fieldManager", "fieldValidation", "pretty"]
    scopes = [(True, f"{base}/namespaces/{{namespace}}/{rt.plural}")] if rt.namespaced else []
    scopes.append((False, f"{base}/{rt.plural}"))
    out: dict[str, Any] = {}
    for namespaced_path, collection in scopes:
        ns = namespaced_path
        coll: dict[str, Any] = {"get": _operation(rt, "list", _op_id("list", rt, ns), None,
                                                  list_ref, ["labelSelector", "fieldSelector",
                                                             "limit", "continue", "watch",
                                                             "resourceVersion",
                                                             "timeoutSeconds"])}
        if ns or not rt.namespaced:
            coll["post"] = _operation(rt, "post", _op_id("create", rt, ns), _schema_name(rt),
                                      kind_ref, write)
            item: dict[str, Any] = {
                "get": _operation(rt, "get", _op_id("read", rt, ns), None, kind_ref, ["pretty"]),
                "put": _operation(rt, "put", _op_id("replace", rt, ns), _schema_name(rt),
                                  kind_ref, write),
                "patch": _operation(rt, "patch", _op_id("patch", rt, ns), "patch", kind_ref,
                                    write + ["force"]),
                "delete": _operation(rt, "delete", _op_id("delete", rt, ns),
                                     "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
                                     ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
                                     ["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "uniqueItems": True}}],
            }
            out[collection + "/{name}"] = item
            if "status" in rt.subresources:
                out[collection + "/{name}/status"] = {
                    "get": _operation(rt, "get", _op_id("read", rt, ns, "Status"), None,
                                      kind_ref, ["pretty"]),
                    "put": _operation(rt, "put", _op_id("replace", rt, ns, "Status"),
                                      _schema_name(rt), kind_ref, write),
                    "patch": _operation(rt, "patch", _op_id("patch", rt, ns, "Status"), "patch",
                                        kind_ref, write + ["force"]),
                }
        out[collection] = coll
    return out


def _schema_name(rt: ResourceType) -> str:
    from .schemas import KIND_SCHEMA
    own = getattr(rt, "schema_name", None)  # a CRD's type
    return own if own is not None else KIND_SCHEMA[rt.plural]


def _build_document(group: str, version: str,
                    served: list[ResourceType] | None = None) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas = copy.deepcopy(SCHEMAS)
    for rt in resources_in(group, version) if served is None else served:
        paths.update(_paths_for(rt))
        own = getattr(rt, "schema", None)
        if own is not None:
            schemas[_schema_name(rt)] = copy.deepcopy(own)
            schemas[_schema_name(rt) + "List"] = _custom_list_schema(rt)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": _GIT_VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description":
                                                "Bearer Token authentication",
                                                "name": "authorization", "in": "header"}},
        },
    }


def _custom_list_schema(rt: ResourceType) -> Schema:
    return {"type": "object", "required": ["items"], "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "items": {"type": "array", "items": ref(_schema_name(rt))},
        "metadata": {"allOf": [ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")],
                     "default": {}}},
        "x-kubernetes-group-version-kind": [{"group": rt.group, "kind": rt.kind + "List",
                                             "version": rt.version}]}


# -- field validation ---------------------------------------------------------------------------
def unknown_fields(schema: Schema | None, value: Any, path: str,
                   prune: bool, partial: bool) -> list[str]:
    """Paths of fields the schema does not know (removed from ``value`` when ``prune``)."""
    schema = resolve(schema)
    if schema is None or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in list(value):
            child = f"{path}.{key}" if path else key
            if props is not None and key in props:
                found += unknown_fields(props[key], value[key], child, prune, partial)
            elif isinstance(extra, dict):
                found += unknown_fields(extra, value[key], child, prune, partial)
            elif props is not None and not (partial and key.startswith("$")):
                found.append(child)
                if prune:
                    del value[key]
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += unknown_fields(schema["items"], item, f"{path}[{i}]", prune, partial)
    return found


def check_fields(rt: ResourceType, body: Any, mode: str | None, *, partial: bool = False
                 ) -> tuple[Any, list[str]]:
    """Apply ``fieldValidation``: Strict -> 400 on unknown fields; Warn (the default) -> drop
    them and return warnings; Ignore -> drop them silently."""
    mode = mode or "Warn"
    if mode not in ("Strict", "Warn", "Ignore"):
        raise bad_request(f"Invalid fieldValidation value: {mode}; valid values are Ignore, "
                          f"Warn, Strict")
    if not isinstance(body, dict):
        return body, []
    body = copy.deepcopy(body)
    found = unknown_fields(kind_schema(rt), body, "", prune=mode != "Strict", partial=partial)
    if not found:
        return body, []
    messages = [f'unknown field "{f}"' for f in found]
    if mode == "Strict":
        detail = "strict decoding error: " + ", ".join(messages)
        if partial:
            raise bad_request(detail)
        raise bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a '
                          f"{rt.kind}: {detail}")
    return body, messages if mode == "Warn" else []
