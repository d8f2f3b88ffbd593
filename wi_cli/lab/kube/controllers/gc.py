"""Garbage collection by owner references (pkg/controller/garbagecollector and
https://kubernetes.io/docs/concepts/architecture/garbage-collection/).

* Background (the default): once an owner is gone, a dependent none of whose owners exists any
  more is deleted; a dependent that still has a live owner only loses the dangling reference.
  A dependent created with a reference to an owner that is already gone is collected too.
* Orphan: the owner's references are removed from its dependents before the owner goes.
  (Kubernetes does this through the ``orphan`` finalizer; the lab, which has no finalizers,
  does it before deleting, with the same end state.)
* Foreground: dependents are deleted, depth first, before the owner. (Kubernetes keeps the
  owner visible with a ``foregroundDeletion`` finalizer meanwhile; the lab does not.)
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any

from ..errors import ApiError
from ..resources import RESOURCES, resource
from .common import SA_PREFIX, Obj

if TYPE_CHECKING:
    from ..store import KubeStore
    from . import ControllerManager

GC_USER = SA_PREFIX + "generic-garbage-collector"
ObjKey = tuple[str, "str | None", str]  # plural, namespace, name


def plural_for(api_version: str, kind: str) -> str | None:
    """The served resource an owner reference names (any version of its group)."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    for rt in RESOURCES:
        if rt.kind == kind and rt.group == group and not rt.virtual:
            return rt.plural
    return None


def _owner_state(store: "KubeStore", ref: Obj, namespace: str | None) -> str:
    """"alive", "gone", or "unknown" (a kind the lab does not serve: left alone)."""
    plural = plural_for(ref.get("apiVersion", ""), ref.get("kind", ""))
    if plural is None:
        return "unknown"
    owner = store.try_get(plural, namespace if resource(plural).namespaced else None,
                          ref.get("name", ""))
    if owner is not None and owner["metadata"].get("uid") == ref.get("uid"):
        return "alive"
    return "gone"


class GarbageCollector:
    """Keeps an owner-uid -> dependents index from the store's change notifications and
    checks the dependents of every deleted object on the manager's worker thread."""

    def __init__(self, manager: "ControllerManager") -> None:
        self.manager = manager
        self.store = manager.store
        self._lock = threading.Lock()
        self._dependents: dict[str, set[ObjKey]] = {}
        self._owners: dict[ObjKey, frozenset[str]] = {}

    def observe(self, event: str, plural: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key: ObjKey = (plural, meta.get("namespace"), meta.get("name", ""))
        uids = frozenset() if event == "DELETED" else frozenset(
            r["uid"] for r in meta.get("ownerReferences") or [] if r.get("uid"))
        with self._lock:
            before = self._owners.get(key, frozenset())
            if uids != before:
                for uid in before - uids:
                    self._dependents.get(uid, set()).discard(key)
                for uid in uids - before:
                    self._dependents.setdefault(uid, set()).add(key)
                if uids:
                    self._owners[key] = uids
                else:
                    self._owners.pop(key, None)
            orphaned = (self._dependents.pop(meta["uid"], set())
                        if event == "DELETED" and meta.get("uid") else set())
        for dependent in orphaned:
            self.manager.enqueue(("gc", *dependent))
        if event == "ADDED" and uids:
            self.manager.enqueue(("gc", *key))

    def check(self, plural: str, namespace: str | None, name: str) -> None:
        obj = self.store.try_get(plural, namespace, name)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        states = [_owner_state(self.store, ref, namespace) for ref in refs]
        if "gone" not in states:
            return
        if "alive" in states or "unknown" in states:
            kept = [r for r, s in zip(refs, states) if s != "gone"]
            _replace_refs(self.store, plural, obj, kept)
            return
        try:
            self.store.delete(plural, namespace, name, user=GC_USER)
        except ApiError as exc:
            if exc.status != 404:
                raise


def _replace_refs(store: "KubeStore", plural: str, obj: Obj, refs: list[Obj]) -> None:
    updated = copy.deepcopy(obj)
    if refs:
        updated["metadata"]["ownerReferences"] = refs
    else:
        updated["metadata"].pop("ownerReferences", None)
    try:
        store.update(plural, obj["metadata"].get("namespace"), updated, user=GC_USER)
    except ApiError as exc:
        if exc.status != 404:
            raise


# -- what the API server does for DeleteOptions.propagationPolicy ---------------------------------
def dependents_of(store: "KubeStore", owner: Obj, owner_plural: str
                  ) -> list[tuple[str, Obj]]:
    uid = owner["metadata"]["uid"]
    namespace = owner["metadata"].get("namespace") if resource(owner_plural).namespaced else None
    found = []
    for rt in RESOURCES:
        if rt.virtual or (namespace is not None and not rt.namespaced):
            continue
        items, _ = store.list(rt.plural, namespace)
        found += [(rt.plural, o) for o in items
                  if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])]
    return found


def orphan_dependents(store: "KubeStore", owner: Obj, owner_plural: str) -> None:
    uid = owner["metadata"]["uid"]
    for plural, dependent in dependents_of(store, owner, owner_plural):
        _without_owner(store, plural, dependent, uid)


def delete_dependents(store: "KubeStore", owner: Obj, owner_plural: str) -> None:
    """Foreground: dependents owned by nothing else go first (theirs before them)."""
    uid = owner["metadata"]["uid"]
    for plural, dependent in dependents_of(store, owner, owner_plural):
        refs = dependent["metadata"].get("ownerReferences") or []
        if any(r.get("uid") != uid for r in refs):
            _without_owner(store, plural, dependent, uid)
            continue
        delete_dependents(store, dependent, plural)
        try:
            store.delete(plural, dependent["metadata"].get("namespace"),
                         dependent["metadata"]["name"], user=GC_USER)
        except ApiError as exc:
            if exc.status != 404:
                raise


def _without_owner(store: "KubeStore", plural: str, dependent: Obj, uid: str) -> None:
    namespace, name = dependent["metadata"].get("namespace"), dependent["metadata"]["name"]
    for _ in range(10):
        current: dict[str, Any] | None = store.try_get(plural, namespace, name)
        if current is None:
            return
        refs = [r for r in current["metadata"].get("ownerReferences") or []
                if r.get("uid") != uid]
        try:
            _replace_refs(store, plural, current, refs)
            return
        except ApiError as exc:
            if exc.status != 409:
                raise
