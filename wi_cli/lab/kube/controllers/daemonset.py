"""The DaemonSet controller (pkg/controller/daemon: daemon_controller.go, update.go).

One pod per node the DaemonSet's ``nodeSelector`` admits (the lab has one node, no taints),
named ``<ds>-<random>``, bound to its node by a ``metadata.name`` node affinity, with the
DaemonSet tolerations, and labels ``controller-revision-hash`` (the current template's hash)
and ``pod-template-generation``. RollingUpdate replaces pods of an old template within
``maxUnavailable`` (delete, then create) or ``maxSurge`` (create, then delete the old pod once
the new one is available); OnDelete replaces a pod only once it is deleted.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

from ..defaults import DS_TEMPLATE_GENERATION
from ..errors import ApiError
from ..selectors import match_label_selector_object
from . import history
from .common import (SA_PREFIX, Obj, available_in, claim, controller_ref, is_ready,
                     omit_zero, phase, pod_from_template, scaled_value, sort_by_creation)

if TYPE_CHECKING:
    from . import ControllerManager

USER = SA_PREFIX + "daemon-set-controller"
COMPONENT = "daemonset-controller"
HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
TOLERATIONS = [  # util.AddOrUpdateDaemonPodTolerations, in its order
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]


def node_of(pod: Obj) -> str:
    """The node a daemon pod is for: its binding, else its metadata.name node affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return field["values"][0]
    return ""


def should_run(ds: Obj, node: Obj) -> bool:
    """NodeShouldRunDaemonPod, for what the lab's nodes have: a nodeSelector to match and
    NoSchedule/NoExecute taints to tolerate."""
    spec = (ds["spec"].get("template") or {}).get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    if not match_label_selector_object({"matchLabels": spec.get("nodeSelector") or {}}, labels):
        return False
    tolerations = (spec.get("tolerations") or []) + [{"key": k, "operator": "Exists",
                                                      "effect": e} for k, e in TOLERATIONS]
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(_tolerates(t, taint) for t in tolerations):
            return False
    return True


def _tolerates(toleration: Obj, taint: Obj) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and \
        toleration.get("value", "") == taint.get("value", "")


class DaemonSetController:
    def __init__(self, manager: "ControllerManager") -> None:
        self.manager = manager
        self.store = manager.store

    def sync(self, namespace: str, name: str) -> float | None:
        ds = self.store.try_get("daemonsets", namespace, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return None
        nodes, _ = self.store.list("nodes")
        pods, _ = self.store.list("pods", namespace)
        owned = claim(self.store, ds, "apps/v1", "DaemonSet", "pods", pods, USER)
        listed, _ = self.store.list("controllerrevisions", namespace)
        revisions = claim(self.store, ds, "apps/v1", "DaemonSet", "controllerrevisions",
                          listed, USER)
        current = history.sync_revision(self.store, ds, "DaemonSet", "daemonsets", revisions,
                                        HASH_LABEL, USER, with_annotations=True)
        digest = current["metadata"]["labels"][HASH_LABEL]
        by_node: dict[str, list[Obj]] = {}
        for pod in owned:
            by_node.setdefault(node_of(pod), []).append(pod)
        wake = self._manage(ds, nodes, by_node, digest)
        pods, _ = self.store.list("pods", namespace)
        owned = [p for p in pods if p["metadata"].get("ownerReferences") and any(
            r.get("uid") == ds["metadata"]["uid"] for r in p["metadata"]["ownerReferences"])]
        by_node = {}
        for pod in owned:
            by_node.setdefault(node_of(pod), []).append(pod)
        self._write_status(ds, nodes, by_node, digest)
        live = {current["metadata"]["name"]} | {
            f"{ds['metadata']['name']}-{(p['metadata'].get('labels') or {}).get(HASH_LABEL)}"
            for p in owned}
        history.truncate(self.store, [r for r in revisions if r["metadata"]["name"] !=
                                      current["metadata"]["name"]], live,
                         int(ds["spec"].get("revisionHistoryLimit", 10)), USER)
        return wake

    def _updated(self, ds: Obj, pod: Obj, digest: str) -> bool:
        """IsPodUpdated: the template hash or the template generation matches."""
        labels = pod["metadata"].get("labels") or {}
        generation = (ds["metadata"].get("annotations") or {}).get(DS_TEMPLATE_GENERATION)
        return labels.get(HASH_LABEL) == digest or (
            generation is not None and labels.get(GENERATION_LABEL) == generation)

    def _manage(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]],
                digest: str) -> float | None:
        now = time.time()
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        strategy = ds["spec"].get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        desired = sum(1 for n in nodes if should_run(ds, n))
        rolling_update = strategy.get("rollingUpdate") or {}
        surge = scaled_value(rolling_update.get("maxSurge", 0), desired, True) if rolling else 0
        unavailable_budget = scaled_value(rolling_update.get("maxUnavailable", 1), desired,
                                          True) if rolling else 0
        if rolling and surge == 0 and unavailable_budget == 0:
            unavailable_budget = 1
        to_create: list[str] = []
        to_delete: list[Obj] = []
        wakes: list[float] = []
        unavailable = surging = 0
        replaceable: list[Obj] = []
        for node in nodes:
            node_name = node["metadata"]["name"]
            pods = [p for p in sort_by_creation(by_node.get(node_name, []))
                    if not p["metadata"].get("deletionTimestamp")]
            if not should_run(ds, node):
                to_delete += pods
                continue
            failed = [p for p in pods if phase(p) == "Failed"]
            to_delete += failed
            running = [p for p in pods if p not in failed]
            if not running:
                to_create.append(node_name)
                unavailable += 1
                continue
            new = [p for p in running if self._updated(ds, p, digest)]
            old = [p for p in running if not self._updated(ds, p, digest)]
            if surge == 0 and len(running) > 1:  # one daemon pod per node: keep the oldest
                to_delete += running[1:]
                running = running[:1]
                new = [p for p in running if p in new]
                old = [p for p in running if p in old]
            waits = [available_in(p, min_ready, now) for p in running]
            wakes += [w for w in waits if w]
            if not rolling or not old:
                if not any(w == 0.0 for w in waits):
                    unavailable += 1
                continue
            if new:  # surge: the new pod replaces the old one once available
                if available_in(new[0], min_ready, now) == 0.0:
                    to_delete += old
                else:
                    surging += 1
                continue
            if available_in(old[0], min_ready, now) != 0.0:
                to_delete += old  # an unavailable old pod is replaced at once
                unavailable += 1
            else:
                replaceable.append(old[0])
        for pod in replaceable:
            if surge > 0:
                if surging < surge:
                    to_create.append(node_of(pod))
                    surging += 1
            elif unavailable < unavailable_budget:
                to_delete.append(pod)
                unavailable += 1
        for pod in to_delete:
            self._delete(ds, pod)
        for node_name in to_create:
            self._create(ds, node_name, digest)
        return min(wakes) if wakes else None

    def _create(self, ds: Obj, node_name: str, digest: str) -> None:
        template = copy.deepcopy(ds["spec"].get("template") or {})
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        generation = (ds["metadata"].get("annotations") or {}).get(DS_TEMPLATE_GENERATION)
        if generation is not None:
            labels[GENERATION_LABEL] = generation
        labels[HASH_LABEL] = digest
        pod = pod_from_template(template, ds, controller_ref(ds, "apps/v1", "DaemonSet"))
        spec = pod["spec"]
        tolerations = spec.setdefault("tolerations", [])
        for key, effect in TOLERATIONS + ([("node.kubernetes.io/network-unavailable",
                                             "NoSchedule")] if spec.get("hostNetwork") else []):
            tolerations[:] = [t for t in tolerations
                              if not (t.get("key") == key and t.get("effect") == effect)]
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
        affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In",
                              "values": [node_name]}]}]}
        try:
            made = self.store.create("pods", ds["metadata"]["namespace"], pod, user=USER)
        except ApiError as exc:
            self._event(ds, "Warning", "FailedCreate", f"Error creating: {exc.message}")
            raise
        self._event(ds, "Normal", "SuccessfulCreate", f"Created pod: {made['metadata']['name']}")

    def _delete(self, ds: Obj, pod: Obj) -> None:
        try:
            self.store.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"],
                              user=USER)
        except ApiError as exc:
            if exc.status == 404:
                return
            self._event(ds, "Warning", "FailedDelete", f"Error deleting: {exc.message}")
            raise
        self._event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")

    def _event(self, ds: Obj, type_: str, reason: str, message: str) -> None:
        self.manager.events.record(ds, "daemonsets", type_, reason, message, COMPONENT)

    def _write_status(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]],
                      digest: str) -> None:
        now = time.time()
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        counts = dict.fromkeys(("desired", "current", "misscheduled", "ready", "available",
                                "updated"), 0)
        for node in nodes:
            pods = sort_by_creation(by_node.get(node["metadata"]["name"], []))
            if not should_run(ds, node):
                counts["misscheduled"] += bool(pods)
                continue
            counts["desired"] += 1
            if not pods:
                continue
            counts["current"] += 1
            pod = pods[0]
            if is_ready(pod):
                counts["ready"] += 1
                counts["available"] += available_in(pod, min_ready, now) == 0.0
            counts["updated"] += self._updated(ds, pod, digest)
        status = omit_zero({
            "currentNumberScheduled": counts["current"],
            "numberMisscheduled": counts["misscheduled"],
            "desiredNumberScheduled": counts["desired"],
            "numberReady": counts["ready"],
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": counts["updated"],
            "numberAvailable": counts["available"],
            "numberUnavailable": counts["desired"] - counts["available"],
            "collisionCount": (ds.get("status") or {}).get("collisionCount"),
        }, keep=("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                 "numberReady"))
        if status == (ds.get("status") or {}):
            return
        updated = copy.deepcopy(ds)
        updated["status"] = status
        self.store.update("daemonsets", ds["metadata"]["namespace"], updated,
                          subresource="status", user=USER)
