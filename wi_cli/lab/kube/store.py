"""The lab cluster's object store: what etcd plus the API server's registry layer do.

Objects are plain JSON dicts as they appear on the wire. One global resourceVersion counter,
one RLock; admission hooks run outside the lock (a hook may read the store or call the API
server), and so do subscriber callbacks.
"""

from __future__ import annotations

import copy
import datetime as dt
import secrets as _secrets
import threading
import traceback
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from . import defaults, validation
from .errors import ApiError, already_exists, bad_request, conflict, forbidden, not_found
from .patch import apply_patch
from .resources import ResourceType, TypeRegistry, has_status_subresource, resource
from .selectors import (FieldSelector, LabelSelector, fields_match, labels_match,
                        parse_field_selector, parse_label_selector)

__all__ = ["AdmissionDenied", "AdmissionHook", "AdmissionRequest", "ApiError", "KubeStore"]


@dataclass
class AdmissionRequest:
    """What an admission hook sees. For DELETE, ``obj`` is a copy of the object being deleted
    (the real AdmissionReview has ``object: null`` and ``oldObject`` set) and the hook's return
    value is ignored."""

    operation: str  # "CREATE" | "UPDATE" | "DELETE"
    plural: str
    namespace: str | None
    obj: dict[str, Any]
    old_obj: dict[str, Any] | None
    user: str
    dry_run: bool
    subresource: str | None = None
    resource_type: ResourceType | None = None  # set by the store (custom types included)

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata") or {}
        return meta.get("name") or ""

    @property
    def kind(self) -> str:
        return (self.resource_type or resource(self.plural)).kind

    @property
    def group(self) -> str:
        return (self.resource_type or resource(self.plural)).group


class AdmissionDenied(Exception):
    """Raised by a hook to refuse; ``message`` is the full Status message the hook built."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


AdmissionHook = Callable[[AdmissionRequest], "dict[str, Any] | None"]
Subscriber = Callable[[str, str, dict[str, Any]], None]

_RETRIES = 50  # GuaranteedUpdate retries unconditional writes until they land


class _Raced(Exception):
    """Another write landed between read and write of an unconditional update."""


_NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_HISTORY = 10000


@dataclass
class _Change:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    plural: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(rt: ResourceType, namespace: str | None, name: str) -> tuple[str, str]:
    return ((namespace or "") if rt.namespaced else "", name)


def _reason_for(code: int) -> str:
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            409: "Conflict", 422: "Invalid", 429: "TooManyRequests",
            500: "InternalError"}.get(code, "")


class KubeStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self._rv = 1000
        self._history: deque[_Change] = deque(maxlen=_HISTORY)
        self._hooks: list[AdmissionHook] = []
        self._subscribers: list[Subscriber] = []
        self._closed = False
        self.types = TypeRegistry()  # built-in types, plus what CRDs add (crds.py)
        # built-in admission plugins that need the cluster (ServiceAccount); set by KubeCluster
        self.builtin_admission: list[Callable[[AdmissionRequest, "KubeStore"], None]] = []

    # -- wiring ---------------------------------------------------------------------------------
    def add_admission_hook(self, hook: AdmissionHook) -> None:
        self._hooks.append(hook)

    def subscribe(self, callback: Subscriber) -> None:
        self._subscribers.append(callback)

    def close(self) -> None:
        """Ends every open watch."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    # -- reads ----------------------------------------------------------------------------------
    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        rt = self.types.resource(plural)
        with self._lock:
            obj = self._bucket(plural).get(_key(rt, namespace, name))
            if obj is None:
                raise not_found(rt, name)
            return copy.deepcopy(obj)

    def try_get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self.get(plural, namespace, name)
        except ApiError:
            return None

    def list(self, plural: str, namespace: str | None = None,
             label_selector: str | LabelSelector | None = None,
             field_selector: str | FieldSelector | None = None
             ) -> tuple[list[dict[str, Any]], str]:
        rt = self.types.resource(plural)
        labels = _labels(label_selector)
        fields = _fields(plural, field_selector)
        with self._lock:
            items = [copy.deepcopy(o) for k, o in sorted(self._bucket(plural).items())
                     if (not rt.namespaced or not namespace or k[0] == namespace)
                     and labels_match(labels, o) and fields_match(fields, o)]
            return items, str(self._rv)

    # -- writes ---------------------------------------------------------------------------------
    def create(self, plural: str, namespace: str | None, obj: dict[str, Any], *,
               dry_run: bool = False, user: str = "lab-admin") -> dict[str, Any]:
        rt = self.types.resource(plural)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        namespace = self._check_namespace(rt, namespace, meta)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        defaults.apply(rt, obj, creating=True)
        obj = self._admit(AdmissionRequest("CREATE", plural, namespace, obj, None, user, dry_run,
                                            resource_type=rt))
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                _secrets.choice(_NAME_SUFFIX_CHARS) for _ in range(5))
        meta["uid"] = str(uuid.uuid4())
        if meta.get("name"):
            defaults.with_uid(rt, obj)
        validation.validate_create(rt, obj)
        if meta.get("resourceVersion"):
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
        with self._lock:
            key = _key(rt, namespace, meta["name"])
            if key in self._bucket(plural):
                raise already_exists(rt, meta["name"])
            meta["creationTimestamp"] = now_rfc3339()
            if rt.has_generation:
                meta["generation"] = 1
            if dry_run:
                return canonical(obj)
            stored = self._commit("ADDED", rt, key, obj, None)
        self._notify("ADDED", plural, stored)
        return copy.deepcopy(stored)

    def update(self, plural: str, namespace: str | None, obj: dict[str, Any], *,
               subresource: str | None = None, dry_run: bool = False,
               user: str = "lab-admin") -> dict[str, Any]:
        rt = self.types.resource(plural)
        name = (obj.get("metadata") or {}).get("name") or ""
        if not name:
            raise bad_request("name is required")  # PUT always names its object
        for _ in range(_RETRIES):
            old = self.get(plural, namespace, name)
            new = self._merge_for_update(rt, old, copy.deepcopy(obj), subresource)
            try:
                return self._write_update(rt, namespace, old, new, subresource=subresource,
                                          dry_run=dry_run, user=user,
                                          precondition=(obj.get("metadata") or {}).get(
                                              "resourceVersion"))
            except _Raced:
                continue
        raise conflict(rt, name)

    def patch(self, plural: str, namespace: str | None, name: str, patch_body: Any,
              content_type: str, *, subresource: str | None = None, dry_run: bool = False,
              user: str = "lab-admin",
              check: Callable[[dict[str, Any]], dict[str, Any]] | None = None
              ) -> dict[str, Any]:
        """``check`` sees the patched object before it is stored (field validation)."""
        rt = self.types.resource(plural)
        for _ in range(_RETRIES):
            old = self.get(plural, namespace, name)
            patched = apply_patch(old, patch_body, content_type, rt)
            if not isinstance(patched, dict):
                raise bad_request("the patch did not produce an object")
            if check is not None:
                patched = check(patched)
            if (patched.get("metadata") or {}).get("name", name) != name:
                raise bad_request(f"the name of the object ({patched['metadata'].get('name')}) "
                                  f"does not match the name on the URL ({name})")
            patched.setdefault("metadata", {})["name"] = name
            precondition = _patch_precondition(patch_body, old, patched)
            new = self._merge_for_update(rt, old, patched, subresource)
            try:
                return self._write_update(rt, namespace, old, new, subresource=subresource,
                                          dry_run=dry_run, user=user, precondition=precondition)
            except _Raced:
                continue
        raise conflict(rt, name)

    def delete(self, plural: str, namespace: str | None, name: str, *,
               dry_run: bool = False, user: str = "lab-admin",
               preconditions: dict[str, str] | None = None,
               dependents: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """``dependents``: called with the object, stored with its deletionTimestamp first
        (as finalizers keep it in Kubernetes), before it goes (Orphan/Foreground deletion)."""
        rt = self.types.resource(plural)
        old = self.get(plural, namespace, name)
        _check_preconditions(rt, old, preconditions)
        self._admit(AdmissionRequest("DELETE", plural, namespace, copy.deepcopy(old), old, user,
                                     dry_run, resource_type=rt))
        final = copy.deepcopy(old)
        meta = final["metadata"]
        meta["deletionTimestamp"] = now_rfc3339()
        if plural == "pods":
            meta["deletionGracePeriodSeconds"] = final.get("spec", {}).get(
                "terminationGracePeriodSeconds", 30)
        if plural == "namespaces":
            final.setdefault("status", {})["phase"] = "Terminating"
        final = canonical(final)
        meta = final["metadata"]
        if dry_run:
            return final
        if plural == "namespaces" or dependents is not None:
            self._stamp_deletion(rt, namespace, name, final)
        if plural == "namespaces":
            self._delete_namespace_contents(name, user)
        if dependents is not None:
            dependents(copy.deepcopy(final))
        with self._lock:
            key = _key(rt, namespace, name)
            if key not in self._bucket(plural):
                raise not_found(rt, name)
            self._bucket(plural).pop(key)
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            self._record(_Change(self._rv, "DELETED", plural, copy.deepcopy(final), old))
        self._notify("DELETED", plural, final)
        return copy.deepcopy(final)

    # -- watch ----------------------------------------------------------------------------------
    def watch(self, plural: str, namespace: str | None = None,
              resource_version: str | None = None,
              label_selector: str | LabelSelector | None = None,
              field_selector: str | FieldSelector | None = None,
              timeout: float | None = None,
              stop: threading.Event | None = None) -> Iterator[dict[str, Any]]:
        """Watch events as the API server streams them. Without a resourceVersion (or "0"),
        existing objects come first as ADDED; a resourceVersion older than the kept history
        gives one ERROR event carrying a 410 Expired Status."""
        rt = self.types.resource(plural)
        labels = _labels(label_selector)
        fields = _fields(plural, field_selector)
        return self._watch(rt, namespace, resource_version, labels, fields, timeout, stop)

    def _watch(self, rt: ResourceType, namespace: str | None, resource_version: str | None,
               labels: LabelSelector, fields: FieldSelector, timeout: float | None,
               stop: threading.Event | None) -> Iterator[dict[str, Any]]:
        deadline = None if timeout is None else _monotonic() + timeout

        def wanted(o: dict[str, Any] | None) -> bool:
            if o is None:
                return False
            ns = (o.get("metadata") or {}).get("namespace") or ""
            return ((not rt.namespaced or not namespace or ns == namespace)
                    and labels_match(labels, o) and fields_match(fields, o))

        with self._lock:
            if not resource_version or resource_version == "0":
                last = self._rv
                initial = [copy.deepcopy(o) for _, o in sorted(self._bucket(rt.plural).items())
                           if wanted(o)]
            else:
                try:
                    last = int(resource_version)
                except ValueError:
                    raise bad_request(f'invalid resource version: strconv.ParseUint: parsing '
                                      f'"{resource_version}": invalid syntax') from None
                oldest = self._history[0].rv if self._history else self._rv + 1
                if len(self._history) == _HISTORY and last < oldest - 1:
                    err = ApiError(410, "Expired",
                                   f"too old resource version: {last} ({oldest - 1})")
                    yield {"type": "ERROR", "object": err.to_status()}
                    return
                initial = []
        for o in initial:
            yield {"type": "ADDED", "object": o}
        while True:
            with self._lock:
                batch = [c for c in self._history if c.rv > last and c.plural == rt.plural]
                if batch:
                    last = batch[-1].rv
                elif self._closed or (stop is not None and stop.is_set()):
                    return
                else:
                    remaining = None if deadline is None else deadline - _monotonic()
                    if remaining is not None and remaining <= 0:
                        return
                    self._changed.wait(0.25 if remaining is None else min(0.25, remaining))
                    continue
            for change in batch:
                event = _event_for(change, wanted)
                if event:
                    yield event

    # -- internals ------------------------------------------------------------------------------
    def _bucket(self, plural: str) -> dict[tuple[str, str], dict[str, Any]]:
        return self._objects.setdefault(plural, {})

    def _check_namespace(self, rt: ResourceType, namespace: str | None,
                         meta: dict[str, Any]) -> str | None:
        if not rt.namespaced:
            meta.pop("namespace", None)
            return None
        body_ns = meta.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")
        namespace = namespace or body_ns
        if not namespace:
            raise bad_request("an empty namespace may not be set during creation")
        meta["namespace"] = namespace
        ns_obj = self.try_get("namespaces", None, namespace)
        if ns_obj is None:
            raise not_found(self.types.resource("namespaces"), namespace)
        if ns_obj["metadata"].get("deletionTimestamp"):  # the NamespaceLifecycle plugin
            raise forbidden(rt, meta.get("name") or meta.get("generateName") or "",
                            f"unable to create new content in namespace {namespace} because "
                            f"it is being terminated")
        return namespace

    def _stamp_deletion(self, rt: ResourceType, namespace: str | None, name: str,
                        final: dict[str, Any]) -> None:
        """Store the object as being deleted while what must go first goes: a Terminating
        namespace takes no new content, and controllers leave an owner being deleted alone
        (no adoption while its dependents are orphaned)."""
        with self._lock:
            key = _key(rt, namespace, name)
            current = self._bucket(rt.plural).get(key)
            if current is None:
                raise not_found(rt, name)
            stored = self._commit("MODIFIED", rt, key, copy.deepcopy(final), current)
        self._notify("MODIFIED", rt.plural, stored)

    def _admit(self, req: AdmissionRequest) -> dict[str, Any]:
        for plugin in self.builtin_admission:
            plugin(req, self)
        for hook in list(self._hooks):
            try:
                result = hook(req)
            except AdmissionDenied as denied:
                raise ApiError(denied.code, _reason_for(denied.code), denied.message) from None
            if result is not None and req.operation != "DELETE":
                req.obj = result
        return req.obj

    def _merge_for_update(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any],
                          subresource: str | None) -> dict[str, Any]:
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new_rv = (new.get("metadata") or {}).get("resourceVersion")
            if new_rv:
                merged["metadata"]["resourceVersion"] = new_rv
            return merged
        if subresource:
            raise bad_request(f"the lab store cannot update subresource {subresource!r}")
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        if rt.namespaced:
            meta["namespace"] = old_meta.get("namespace")
        else:
            meta.pop("namespace", None)
        if has_status_subresource(rt):
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        defaults.apply(rt, new)
        return new

    def _write_update(self, rt: ResourceType, namespace: str | None, old: dict[str, Any],
                      new: dict[str, Any], *, subresource: str | None, dry_run: bool,
                      user: str, precondition: str | None) -> dict[str, Any]:
        """``precondition``: the resourceVersion the caller sent (stale -> 409 Conflict);
        without one the write is unconditional and retried when another write races it."""
        name = old["metadata"]["name"]
        sent_rv = precondition
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        new = self._admit(AdmissionRequest("UPDATE", rt.plural, namespace, new, old, user,
                                           dry_run, subresource, rt))
        if subresource != "status":
            defaults.on_update(rt, new, old)
        validation.validate_update(rt, new, old)
        if rt.has_generation and subresource != "status" and new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old or dry_run:
            return canonical(new)
        with self._lock:
            key = _key(rt, namespace, name)
            current = self._bucket(rt.plural).get(key)
            if current is None:
                raise not_found(rt, name)
            if current["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"]:
                if sent_rv:
                    raise conflict(rt, name)
                raise _Raced()  # unconditional writes retry, as GuaranteedUpdate does
            stored = self._commit("MODIFIED", rt, key, new, current)
        self._notify("MODIFIED", rt.plural, stored)
        return copy.deepcopy(stored)

    def _commit(self, change: str, rt: ResourceType, key: tuple[str, str],
                obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        """Store under the lock: bump the counter, stamp the object, record the change."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        obj = canonical(obj)
        self._bucket(rt.plural)[key] = obj
        self._record(_Change(self._rv, change, rt.plural, copy.deepcopy(obj), old))
        return obj

    def _record(self, change: _Change) -> None:
        self._history.append(change)
        self._changed.notify_all()

    def _notify(self, event: str, plural: str, obj: dict[str, Any]) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event, plural, copy.deepcopy(obj))
            except Exception:  # a broken subscriber must not fail the API call that fired it
                traceback.print_exc()

    def _delete_namespace_contents(self, namespace: str, user: str) -> None:
        for rt_plural in list(self._objects):
            try:
                rt = self.types.resource(rt_plural)
            except KeyError:  # a custom type whose CRD is gone (its objects went with it)
                continue
            if rt_plural == "namespaces" or not rt.namespaced:
                continue
            items, _ = self.list(rt_plural, namespace)
            for item in items:
                try:
                    self.delete(rt_plural, namespace, item["metadata"]["name"], user=user)
                except ApiError:
                    pass


_TOP_ORDER = ("kind", "apiVersion", "metadata")
_META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
               "generation", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
               "finalizers", "managedFields")


def canonical(obj: dict[str, Any]) -> dict[str, Any]:
    """Key order as the API server writes objects: kind, apiVersion, metadata, ..., status."""
    out = {k: obj[k] for k in _TOP_ORDER if k in obj}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {**{k: meta[k] for k in _META_ORDER if k in meta},
                           **{k: v for k, v in meta.items() if k not in _META_ORDER}}
    out.update({k: v for k, v in obj.items() if k not in _TOP_ORDER and k != "status"})
    if "status" in obj:
        out["status"] = obj["status"]
    return out


def _labels(selector: str | LabelSelector | None) -> LabelSelector:
    if selector is None or isinstance(selector, str):
        return parse_label_selector(selector)
    return selector


def _fields(plural: str, selector: str | FieldSelector | None) -> FieldSelector:
    if selector is None or isinstance(selector, str):
        return parse_field_selector(plural, selector)
    return selector


def _patch_precondition(patch_body: Any, old: dict[str, Any], patched: dict[str, Any]
                        ) -> str | None:
    """The resourceVersion a patch asks for: named in a merge/strategic body, or changed by a
    JSON patch."""
    if isinstance(patch_body, dict):
        return (patch_body.get("metadata") or {}).get("resourceVersion")
    rv = (patched.get("metadata") or {}).get("resourceVersion")
    return rv if rv != old["metadata"].get("resourceVersion") else None


def _check_preconditions(rt: ResourceType, obj: dict[str, Any],
                         preconditions: dict[str, str] | None) -> None:
    if not preconditions:
        return
    meta = obj["metadata"]
    name = meta["name"]
    uid = preconditions.get("uid")
    if uid and uid != meta.get("uid"):
        raise ApiError(409, "Conflict",
                       f"Operation cannot be fulfilled on {rt.qualified} \"{name}\": "
                       f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                       f"{meta.get('uid')}", {"name": name, **({"group": rt.group}
                                                              if rt.group else {}),
                                              "kind": rt.plural})
    rv = preconditions.get("resourceVersion")
    if rv and rv != meta.get("resourceVersion"):
        raise conflict(rt, name)


def _event_for(change: _Change, wanted: Callable[[dict[str, Any] | None], bool]
               ) -> dict[str, Any] | None:
    """Map a change to the event a filtered watch sees (objects moving in/out of the filter
    appear as ADDED/DELETED, as the API server's watch cache does)."""
    now_in = wanted(change.obj)
    if change.type == "DELETED":
        return {"type": "DELETED", "object": copy.deepcopy(change.obj)} if now_in else None
    was_in = wanted(change.old)
    if now_in and was_in:
        return {"type": "MODIFIED", "object": copy.deepcopy(change.obj)}
    if now_in:
        return {"type": "ADDED", "object": copy.deepcopy(change.obj)}
    if was_in:
        gone = copy.deepcopy(change.obj)
        return {"type": "DELETED", "object": gone}
    return None


def _monotonic() -> float:
    import time
    return time.monotonic()
