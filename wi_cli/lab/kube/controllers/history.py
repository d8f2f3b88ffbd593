"""ControllerRevisions of StatefulSets and DaemonSets (pkg/controller/history,
statefulset/stateful_set_utils.go, daemon/update.go): one revision per distinct pod template,
``data`` being the patch that restores it, numbered in order of use, so ``kubectl rollout
history`` and ``undo`` work."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from ..errors import ApiError
from .common import Obj, compute_hash, controller_of, controller_ref, semantic

if TYPE_CHECKING:
    from ..store import KubeStore


def revision_data(owner: Obj) -> Obj:
    """getPatch: the template, marked to replace the whole template when applied."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: Obj) -> Obj:
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get(
        "template") or {})
    template.pop("$patch", None)
    return template


def number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def sync_revision(store: "KubeStore", owner: Obj, kind: str, plural: str,
                  revisions: list[Obj], hash_label: str, user: str,
                  with_annotations: bool = False) -> Obj:
    """The revision of the owner's current template: found (and renumbered after the others
    when an old template comes back) or created as ``<owner>-<hash>``. A name taken by
    another template counts a collision in the owner's status and raises, to retry."""
    data = revision_data(owner)
    matching = [r for r in revisions if semantic(r.get("data")) == semantic(data)]
    others = [r for r in revisions if r not in matching]
    next_number = max((number(r) for r in others), default=0) + 1
    namespace = owner["metadata"]["namespace"]
    if matching:
        current = max(matching, key=number)
        if number(current) < next_number:
            current = copy.deepcopy(current)
            current["revision"] = next_number
            current = store.update("controllerrevisions", namespace, current, user=user)
        return current
    collisions = (owner.get("status") or {}).get("collisionCount")
    digest = compute_hash(data, collisions)
    labels = dict(((owner["spec"].get("template") or {}).get("metadata") or {}).get("labels")
                  or {})
    labels[hash_label] = digest
    meta: Obj = {"name": f"{owner['metadata']['name']}-{digest}", "namespace": namespace,
                 "labels": labels, "ownerReferences": [controller_ref(owner, "apps/v1", kind)]}
    annotations = owner["metadata"].get("annotations")
    if with_annotations and annotations:
        meta["annotations"] = dict(annotations)
    body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta,
            "data": data, "revision": next_number}
    try:
        return store.create("controllerrevisions", namespace, body, user=user)
    except ApiError as exc:
        if exc.status != 409:
            raise
        found = store.try_get("controllerrevisions", namespace, meta["name"])
        if found is not None and semantic(found.get("data")) == semantic(data) and \
                (controller_of(found) or {}).get("uid") == owner["metadata"]["uid"]:
            return found
        status = copy.deepcopy(owner.get("status") or {})
        status["collisionCount"] = int(collisions or 0) + 1
        updated = copy.deepcopy(owner)
        updated["status"] = status
        store.update(plural, namespace, updated, subresource="status", user=user)
        raise


def truncate(store: "KubeStore", revisions: list[Obj], live: set[str], limit: int,
             user: str) -> None:
    """Delete the oldest revisions no pod or status uses, beyond revisionHistoryLimit."""
    history = sorted((r for r in revisions if r["metadata"]["name"] not in live), key=number)
    for revision in history[:max(len(history) - limit, 0)]:
        try:
            store.delete("controllerrevisions", revision["metadata"]["namespace"],
                         revision["metadata"]["name"], user=user)
        except ApiError as exc:
            if exc.status != 404:
                raise
