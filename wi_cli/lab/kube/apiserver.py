"""The lab's kube-apiserver: authentication, discovery, OpenAPI, and the REST verbs over the store.

Paths, verbs, status codes and bodies follow the real API server: ``/api/v1/namespaces/{ns}/pods``,
``/apis/apps/v1/...``, ``?watch=true`` streams, ``metav1.Status`` errors, Table output for kubectl.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import yaml

from ..http import Request, Response, Router, json_response
from . import crds, discovery, openapi, protobuf, tables
from .controllers import gc
from .errors import ApiError, bad_request, forbidden
from .resources import ResourceType

if TYPE_CHECKING:
    from .cluster import KubeCluster, TokenIdentity

SubresourceHandler = Callable[[Request, str, str], Response]
PublicHandler = Callable[[Request], Response]

_PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml")


@dataclass
class Target:
    """What a resource URL names."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool  # the legacy /watch/ prefix


def status_response(err: ApiError, headers: dict[str, str] | None = None) -> Response:
    body = err.to_status()
    if not err.reason:
        body.pop("reason")
    return json_response(err.status, body, headers, content_type="application/json")


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, obj, headers, content_type="application/json")


class ApiServer:
    def __init__(self, cluster: "KubeCluster") -> None:
        self.cluster = cluster
        self.router = Router()
        self.router.add("*", r"/.*", self.handle)
        self._public: list[tuple[str, re.Pattern[str], PublicHandler]] = []
        self._subresources: dict[tuple[str, str, str], SubresourceHandler] = {}
        self.git_version = "v1.33.2"

    # -- registration ---------------------------------------------------------------------------
    def add_public_route(self, method: str, pattern: str, handler: PublicHandler) -> None:
        self._public.append((method.upper(), re.compile(pattern + r"\Z"), handler))

    def register_subresource(self, plural: str, sub: str, method: str,
                             handler: SubresourceHandler) -> None:
        self._subresources[(plural, sub, method.upper())] = handler

    # -- entry point ----------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            resp = self._handle(req)
        except ApiError as err:
            resp = status_response(err)
        resp.headers.setdefault("Audit-Id", str(uuid.uuid4()))
        resp.headers.setdefault("Cache-Control", "no-cache, private")
        return resp

    def _handle(self, req: Request) -> Response:
        for method, pattern, handler in self._public:
            if pattern.match(req.path) and method in (req.method, "*"):
                return handler(req)
        bare = req.path.rstrip("/") or "/"
        if bare in _PUBLIC_PATHS and req.method == "GET":
            return self._public_info(bare)
        identity = self._authenticate(req)
        _decode_protobuf_body(req)
        path = req.path.rstrip("/") or "/"
        if req.method == "GET":
            doc = self._discovery(req, path)
            if doc is not None:
                return doc
        target = self._parse_target(path)
        if target is None:
            return status_response(ApiError(404, "NotFound",
                                            "the server could not find the requested resource",
                                            {}))
        return self._serve(req, target, identity)

    def _public_info(self, path: str) -> Response:
        if path == "/version":
            return _json(200, discovery.version_info(self.git_version))
        return Response(200, b"ok", {"Content-Type": "text/plain; charset=utf-8",
                                     "X-Content-Type-Options": "nosniff"})

    def _authenticate(self, req: Request) -> "TokenIdentity":
        token = req.bearer
        identity = self.cluster.tokens.get(token) if token else None
        if identity is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return identity

    def _discovery(self, req: Request, path: str) -> Response | None:
        types = self.cluster.store.types  # built-in, plus what CRDs add
        if path == "/api":
            return _json(200, discovery.api_versions())
        if path == "/apis":
            return _json(200, discovery.api_group_list(types.custom_groups()))
        if path == "/api/v1":
            return _json(200, discovery.resource_list("", "v1"))
        m = re.fullmatch(r"/apis/([^/]+)(?:/([^/]+))?", path)
        groups = types.groups()
        if m and m.group(1) in groups:
            group, version = m.group(1), m.group(2)
            if version is None:
                return _json(200, discovery.api_group(group, groups[group]))
            if version in groups[group]:
                return _json(200, discovery.resource_list(group, version,
                                                          types.served(group, version)))
        if path == "/openapi/v3":
            return _json(200, openapi.index(types))
        m = re.fullmatch(r"/openapi/v3/(apis?/.+)", path)
        if m:
            doc = openapi.document(m.group(1), types)
            if doc is not None:
                return _json(200, doc, {"Cache-Control": "public, immutable",
                                        "Etag": '"' + openapi.doc_hash(m.group(1), types) + '"'})
        return None

    # -- URL parsing ----------------------------------------------------------------------------
    def _parse_target(self, path: str) -> Target | None:
        m = re.fullmatch(r"/api/v1/(.+)", path)
        if m:
            group, version, rest = "", "v1", m.group(1)
        else:
            m = re.fullmatch(r"/apis/([^/]+)/([^/]+)/(.+)", path)
            if not m:
                return None
            group, version, rest = m.groups()
        served = {r.plural: r for r in self.cluster.store.types.served(group, version)}
        if not served:
            return None
        parts = rest.split("/")
        watch_path = parts[0] == "watch"
        if watch_path:
            parts = parts[1:]
        namespace = None
        if (len(parts) >= 3 and parts[0] == "namespaces" and parts[2] in served
                and served[parts[2]].namespaced):
            namespace, parts = parts[1], parts[2:]
        if not parts or parts[0] not in served or len(parts) > 3:
            return None
        rt = served[parts[0]]
        if rt.namespaced and namespace is None and len(parts) > 1:
            return None
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if sub is not None and sub not in rt.subresources:
            return None
        return Target(rt, namespace, name, sub, watch_path)

    # -- authorization --------------------------------------------------------------------------
    def _authorize(self, identity: "TokenIdentity", verb: str, target: Target) -> None:
        if identity.allow is None or target.rt.virtual:
            return  # system:basic-user lets every authenticated user ask about itself
        res = target.rt.plural + (f"/{target.subresource}" if target.subresource else "")
        ns = target.namespace or ""
        if target.rt.plural == "namespaces" and target.name and verb != "create":
            ns = target.name  # RBAC treats a namespace's own object as inside it
        if identity.allow(verb, res, ns):
            return
        where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        reason = (f'User "{identity.user}" cannot {verb} resource "{res}" in API group '
                  f'"{target.rt.group}" {where}')
        raise forbidden(target.rt, target.name or "", reason)

    # -- verbs ----------------------------------------------------------------------------------
    def _serve(self, req: Request, target: Target, identity: "TokenIdentity") -> Response:
        verb = _verb(req, target)
        self._authorize(identity, verb, target)
        if target.subresource and target.subresource != "status":
            handler = self._subresources.get((target.rt.plural, target.subresource, req.method))
            if handler is None:
                return self._method_not_allowed()
            return handler(req, target.namespace or "", target.name or "")
        handler_for = {
            "get": self._get, "list": self._list, "watch": self._watch, "create": self._create,
            "update": self._update, "patch": self._patch, "delete": self._delete,
            "deletecollection": self._delete_collection,
        }
        fn = handler_for.get(verb)
        if fn is None:
            return self._method_not_allowed()
        return fn(req, target, identity)

    @staticmethod
    def _method_not_allowed() -> Response:
        return status_response(ApiError(405, "MethodNotAllowed",
                                        "the server does not allow this method on the requested "
                                        "resource", {}))

    def _get(self, req: Request, t: Target, identity: "TokenIdentity") -> Response:
        obj = self.cluster.store.get(t.rt.plural, t.namespace, t.name or "")
        if tables.wants_table(req):
            return _json(200, tables.table(t.rt, [obj], obj["metadata"]["resourceVersion"],
                                           req.arg("includeObject", "Metadata")))
        return _json(200, obj)

    def _list(self, req: Request, t: Target, identity: "TokenIdentity") -> Response:
        items, rv = self.cluster.store.list(t.rt.plural, t.namespace, req.arg("labelSelector"),
                                            req.arg("fieldSelector"))
        items, meta = _page(items, rv, req.arg("limit"), req.arg("continue"))
        if tables.wants_table(req):
            body = tables.table(t.rt, items, rv, req.arg("includeObject", "Metadata"))
            body["metadata"].update({k: v for k, v in meta.items() if k != "resourceVersion"})
            return _json(200, body)
        for item in items:  # list items carry no kind/apiVersion on the wire
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return _json(200, {"kind": t.rt.kind + "List", "apiVersion": t.rt.api_version,
                           "metadata": meta, "items": items})

    def _watch(self, req: Request, t: Target, identity: "TokenIdentity") -> Response:
        timeout = req.arg("timeoutSeconds")
        events = self.cluster.store.watch(
            t.rt.plural, t.namespace, req.arg("resourceVersion"), req.arg("labelSelector"),
            req.arg("fieldSelector"), timeout=float(timeout) if timeout else None,
            stop=self.cluster.server.stopping if hasattr(self.cluster, "server") else None)
        if t.name:  # a watch on one object is a fieldSelector on its name
            name = t.name
            events = (e for e in events
                      if (e["object"].get("metadata") or {}).get("name") == name
                      or e["type"] == "ERROR")
        as_table = tables.wants_table(req)
        include = req.arg("includeObject", "Metadata")

        def lines() -> Iterator[bytes]:
            for event in events:
                if as_table and event["type"] != "ERROR":
                    event = {"type": event["type"],
                             "object": tables.table(t.rt, [event["object"]],
                                                    event["object"]["metadata"].get(
                                                        "resourceVersion", ""), include,
                                                    headers=False)}
                yield json.dumps(event).encode() + b"\n"

        ctype = "application/json"
        return Response(200, lines(), {"Content-Type": ctype})

    def _create(self, req: Request, t: Target, identity: "TokenIdentity") -> Response:
        if t.name is not None:
            return self._method_not_allowed()
        body = _decode_body(req)
        _check_kind(t.rt, body)
        body, warnings = openapi.check_fields(t.rt, body, req.arg("fieldValidation"))
        if t.rt.virtual:
            return _json(201, self._review(t.rt, body, identity))
        obj = self.cluster.store.create(t.rt.plural, t.namespace, body,
                                        dry_run=_dry_run(req, body), user=identity.user)
        return _json(201, obj, _warning_headers(warnings))

    def _review(self, rt: ResourceType, body: dict[str, Any], identity: "TokenIdentity"
                ) -> dict[str, Any]:
        """SelfSubjectAccessReview / SelfSubjectReview: answered from the caller's token."""
        body.setdefault("metadata", {})["creationTimestamp"] = None
        if rt.kind == "SelfSubjectReview":
            body["status"] = {"userInfo": {"username": identity.user,
                                           "groups": list(identity.groups)}}
            return body
        spec = body.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        if attrs:
            res = attrs.get("resource", "") + (f"/{attrs['subresource']}"
                                               if attrs.get("subresource") else "")
            allowed = identity.allow is None or identity.allow(attrs.get("verb", ""), res,
                                                               attrs.get("namespace", ""))
        else:
            nra = spec.get("nonResourceAttributes") or {}
            allowed = identity.allow is None or identity.allow(nra.get("verb", ""),
                                                               nra.get("path", ""), "")
        body["status"] = {"allowed": bool(allowed)}
        return body

    def _update(self, req: Request, t: Target, identity: "TokenIdentity") -> Response:
        body = _decode_body(req)
        _check_kind(t.rt, body)
        meta = body.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != t.name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name "
                              f"on the URL ({t.name})")
        if t.namespace and meta.get("namespace") and meta["namespace"] != t.namespace:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")
        meta["name"] = t.name
        body, warnings = openapi.check_fields(t.rt, body, req.arg("fieldValidation"))
        obj = self.cluster.store.update(t.rt.plural, t.namespace, body,
                                        subresource=t.subresource, dry_run=_dry_run(req, None),
                                        user=identity.user)
        return _json(200, obj, _warning_headers(warnings))

    def _patch(self, req: Request, t: Target, identity: "TokenIdentity") -> Response:
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in _PATCH_TYPES:
            return status_response(ApiError(
                415, "UnsupportedMediaType",
                f'the body of the request was in an unknown format - accepted media types '
                f'include: {", ".join(_PATCH_TYPES)}', {}))
        if ctype == "application/strategic-merge-patch+json" and crds.is_custom(t.rt):
            return status_response(ApiError(
                415, "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml", {}))
        if ctype == "application/apply-patch+yaml":
            if not req.arg("fieldManager"):
                raise bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                                  "Required value: is required for apply patch")
            try:
                patch_body = yaml.safe_load(req.body.decode("utf-8"))
            except yaml.YAMLError as exc:
                raise bad_request(f"error decoding YAML: {exc}") from None
        else:
            try:
                patch_body = json.loads(req.body or b"null")
            except ValueError as exc:
                raise bad_request(f"error decoding patch: {exc}") from None
        store = self.cluster.store
        validation_mode = req.arg("fieldValidation")
        if ctype == "application/apply-patch+yaml" and store.try_get(
                t.rt.plural, t.namespace, t.name or "") is None:
            body, warnings = openapi.check_fields(t.rt, patch_body, validation_mode)
            body.setdefault("metadata", {})["name"] = t.name
            obj = store.create(t.rt.plural, t.namespace, body, dry_run=_dry_run(req, None),
                               user=identity.user)
            return _json(201, obj, _warning_headers(warnings))
        warnings = []

        def check(patched: dict[str, Any]) -> dict[str, Any]:
            pruned, found = openapi.check_fields(t.rt, patched, validation_mode, partial=True)
            warnings.extend(found)
            return pruned

        obj = store.patch(t.rt.plural, t.namespace, t.name or "", patch_body, ctype,
                          subresource=t.subresource, dry_run=_dry_run(req, None),
                          user=identity.user, check=check)
        return _json(200, obj, _warning_headers(warnings))

    def _delete(self, req: Request, t: Target, identity: "TokenIdentity") -> Response:
        options = _decode_body(req, allow_empty=True) or {}
        policy, warnings = _propagation_policy(req, options, t.rt)
        obj = self._delete_one(t.rt, t.namespace, t.name or "", policy,
                               dry_run=_dry_run(req, options), user=identity.user,
                               preconditions=options.get("preconditions"))
        if t.rt.returns_deleted_object:
            return _json(200, obj, _warning_headers(warnings))
        details: dict[str, Any] = {"name": t.name}
        if t.rt.group:
            details["group"] = t.rt.group
        details["kind"] = t.rt.plural
        details["uid"] = obj["metadata"].get("uid")
        return _json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Success", "details": details}, _warning_headers(warnings))

    def _delete_one(self, rt: ResourceType, namespace: str | None, name: str,
                    policy: str, *, dry_run: bool, user: str,
                    preconditions: dict[str, str] | None = None) -> dict[str, Any]:
        """Orphan and Foreground dependents are handled here, before the owner goes;
        Background is the garbage collector's job once it has gone (controllers.gc)."""
        store = self.cluster.store
        handle = {"Orphan": gc.orphan_dependents, "Foreground": gc.delete_dependents}.get(policy)
        return store.delete(rt.plural, namespace, name, dry_run=dry_run, user=user,
                            preconditions=preconditions,
                            dependents=(lambda owner: handle(store, owner, rt.plural))
                            if handle else None)

    def _delete_collection(self, req: Request, t: Target, identity: "TokenIdentity"
                           ) -> Response:
        store = self.cluster.store
        items, rv = store.list(t.rt.plural, t.namespace, req.arg("labelSelector"),
                               req.arg("fieldSelector"))
        options = _decode_body(req, allow_empty=True)
        dry_run = _dry_run(req, options)
        policy, warnings = _propagation_policy(req, options or {}, t.rt)
        deleted = []
        for item in items:
            meta = item["metadata"]
            try:
                deleted.append(self._delete_one(t.rt, meta.get("namespace"), meta["name"],
                                                policy, dry_run=dry_run, user=identity.user))
            except ApiError as err:
                if err.status != 404:
                    raise
        for item in deleted:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return _json(200, {"kind": t.rt.kind + "List", "apiVersion": t.rt.api_version,
                           "metadata": {"resourceVersion": rv}, "items": deleted},
                     _warning_headers(warnings))


# -- helpers ----------------------------------------------------------------------------------
def _verb(req: Request, t: Target) -> str:
    method = req.method
    if method == "GET":
        if t.watch_path or (req.arg("watch") or "").lower() in ("true", "1"):
            return "watch"
        return "get" if t.name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if t.name else "deletecollection"
    return method.lower()


def _decode_protobuf_body(req: Request) -> None:
    """Rewrite a protobuf request body (kubectl's typed clients) as JSON, in place."""
    ctype = req.headers.get("content-type", "").split(";")[0].strip()
    if ctype != protobuf.PROTOBUF or not req.body:
        return
    try:
        obj = protobuf.decode_object(req.body)
    except (protobuf.ProtobufError, KeyError, UnicodeDecodeError):
        if req.method == "DELETE":  # DeleteOptions from a typed client: use the defaults
            req.body = b""
            return
        raise ApiError(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media "
                       "types include: application/json, application/yaml", {}) from None
    req.body = json.dumps(obj).encode()
    req.headers["content-type"] = "application/json"


def _decode_body(req: Request, allow_empty: bool = False) -> Any:
    if not req.body:
        if allow_empty:
            return None
        raise bad_request("the body of the request was empty")
    ctype = req.headers.get("content-type", "application/json").split(";")[0].strip()
    try:
        if ctype in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(req.body.decode("utf-8"))
        return json.loads(req.body)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def _check_kind(rt: ResourceType, body: Any) -> None:
    if not isinstance(body, dict):
        raise bad_request("Object 'Kind' is missing in 'null'")
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if kind and kind != rt.kind:
        raise bad_request(f"the API version in the data ({api_version}) does not match the "
                          f"expected API version ({rt.api_version})"
                          if api_version and api_version != rt.api_version else
                          f"{kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                          f"no kind \"{kind}\" is registered for version \"{rt.api_version}\"")
    if api_version and api_version != rt.api_version:
        raise bad_request(f"the API version in the data ({api_version}) does not match the "
                          f"expected API version ({rt.api_version})")


def _dry_run(req: Request, body: Any) -> bool:
    values = req.query.get("dryRun", [])
    if isinstance(body, dict):
        values = values + list(body.get("dryRun") or [])
    for v in values:
        if v != "All":
            raise bad_request(f"Invalid dry run value: {v}; valid values are All")
    return bool(values)


_JOB_ORPHANS = ("child pods are preserved by default when jobs are deleted; set "
                "propagationPolicy=Background to remove them or set propagationPolicy=Orphan "
                "to suppress this warning")


def _propagation_policy(req: Request, options: dict[str, Any], rt: ResourceType
                        ) -> tuple[str, list[str]]:
    """DeleteOptions.propagationPolicy (body or query), or the legacy orphanDependents; left
    unset, batch/v1 Jobs orphan their pods, with the API server's warning, and everything
    else is collected in the background."""
    policy = options.get("propagationPolicy") or req.arg("propagationPolicy")
    orphan = options.get("orphanDependents")
    if orphan is None and req.arg("orphanDependents"):
        orphan = req.arg("orphanDependents") in ("true", "1")
    if policy:
        if policy not in ("Orphan", "Background", "Foreground"):
            detail = (f'Unsupported value: "{policy}": supported values: "Foreground", '
                      f'"Background", "Orphan", "nil"')
            raise ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: '
                                           f"propagationPolicy: {detail}",
                           {"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": [
                               {"reason": "FieldValueNotSupported", "message": detail,
                                "field": "propagationPolicy"}]})
        return policy, []
    if orphan is not None:
        return ("Orphan" if orphan else "Background"), []
    if rt.plural == "jobs":
        return "Orphan", [_JOB_ORPHANS]
    return "Background", []


def _warning_headers(warnings: list[str]) -> dict[str, str]:
    if not warnings:
        return {}
    # one header line can carry several comma-separated warn-values
    return {"Warning": ", ".join('299 - "' + w.replace('"', '\\"') + '"' for w in warnings)}


def _page(items: list[dict[str, Any]], rv: str, limit: str | None, token: str | None
          ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    start = 0
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            start, rv = int(state["start"]), state["rv"]
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "BadRequest", "continue key is not valid: illegal base64 data "
                                              "at input byte 0") from None
    meta: dict[str, Any] = {"resourceVersion": rv}
    if not limit or int(limit) <= 0:
        return items[start:], meta
    end = start + int(limit)
    page = items[start:end]
    if end < len(items):
        meta["continue"] = base64.urlsafe_b64encode(
            json.dumps({"rv": rv, "start": end}).encode()).decode().rstrip("=")
        meta["remainingItemCount"] = len(items) - end
    return page, meta
