"""The StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go).

Pods are ``<set>-0`` .. ``<set>-N-1`` (hostname the pod name, subdomain ``serviceName``,
labels ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index`` and
``controller-revision-hash`` = the ControllerRevision's name). With ``OrderedReady`` each pod
waits for its predecessors to be Running and Ready, and scale-down removes the highest ordinal
first, one at a time; ``Parallel`` does not wait. A new template rolls out (RollingUpdate)
by deleting the highest-ordinal pod not at the update revision, down to ``partition``, one at
a time and only while every pod is healthy; the pod is then re-created from the new template.
Once all pods are updated and ready, ``currentRevision`` becomes ``updateRevision``, which is
what ``kubectl rollout status statefulset`` waits for. ``volumeClaimTemplates`` become pod
volumes naming ``<claim>-<set>-<ordinal>``; the lab has no PersistentVolumeClaims to create.
"""

from __future__ import annotations

import copy
import re
import time
from typing import TYPE_CHECKING

from ..errors import ApiError
from . import history
from .common import (SA_PREFIX, Obj, available_in, claim, controller_ref, is_ready,
                     is_terminal, omit_zero, phase, pod_from_template)

if TYPE_CHECKING:
    from . import ControllerManager

USER = SA_PREFIX + "statefulset-controller"
COMPONENT = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"


def ordinal(ss: Obj, pod: Obj) -> int | None:
    m = re.fullmatch(re.escape(ss["metadata"]["name"]) + r"-(\d+)", pod["metadata"]["name"])
    return int(m.group(1)) if m else None


def running_and_ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def revision_of(pod: Obj) -> str:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL, "")


class StatefulSetController:
    def __init__(self, manager: "ControllerManager") -> None:
        self.manager = manager
        self.store = manager.store

    def sync(self, namespace: str, name: str) -> float | None:
        ss = self.store.try_get("statefulsets", namespace, name)
        if ss is None or ss["metadata"].get("deletionTimestamp"):
            return None
        pods, _ = self.store.list("pods", namespace)
        owned = claim(self.store, ss, "apps/v1", "StatefulSet", "pods", pods, USER,
                      can_adopt=lambda p: ordinal(ss, p) is not None)
        listed, _ = self.store.list("controllerrevisions", namespace)
        revisions = claim(self.store, ss, "apps/v1", "StatefulSet", "controllerrevisions",
                          listed, USER)
        update = history.sync_revision(self.store, ss, "StatefulSet", "statefulsets",
                                       revisions, REVISION_HASH_LABEL, USER)
        revisions = [r for r in revisions if r["metadata"]["name"] != update["metadata"]["name"]]
        revisions.append(update)
        current_name = (ss.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == current_name), update)
        pods_now, wake = self._update(ss, current, update, owned)
        self._write_status(ss, current, update, pods_now)
        live = {current["metadata"]["name"], update["metadata"]["name"]} | {
            revision_of(p) for p in pods_now}
        history.truncate(self.store, revisions, live,
                         int(ss["spec"].get("revisionHistoryLimit", 10)), USER)
        return wake

    # -- updateStatefulSet ------------------------------------------------------------------------
    def _new_pod(self, ss: Obj, template: Obj, revision: Obj, index: int) -> Obj:
        pod = pod_from_template(template, ss, controller_ref(ss, "apps/v1", "StatefulSet"))
        name = f"{ss['metadata']['name']}-{index}"
        pod["metadata"]["name"] = name
        labels = pod["metadata"].setdefault("labels", {})
        labels.update({POD_NAME_LABEL: name, POD_INDEX_LABEL: str(index),
                       REVISION_LABEL: revision["metadata"]["name"]})
        spec = pod["spec"]
        spec["hostname"] = name
        if ss["spec"].get("serviceName"):
            spec["subdomain"] = ss["spec"]["serviceName"]
        for claim_template in ss["spec"].get("volumeClaimTemplates") or []:
            claim_name = (claim_template.get("metadata") or {}).get("name", "")
            volume = {"name": claim_name, "persistentVolumeClaim": {
                "claimName": f"{claim_name}-{ss['metadata']['name']}-{index}"}}
            spec["volumes"] = [v for v in spec.get("volumes") or []
                               if v.get("name") != claim_name] + [volume]
        return pod

    def _update(self, ss: Obj, current: Obj, update: Obj, owned: list[Obj]
                ) -> tuple[list[Obj], float | None]:
        """Make one round of progress; returns the pods that exist afterwards and when to
        look again (a pod becoming available after minReadySeconds)."""
        count = int(ss["spec"].get("replicas", 1))
        strategy = ss["spec"].get("updateStrategy") or {}
        partition = (strategy.get("rollingUpdate") or {}).get("partition")
        monotonic = ss["spec"].get("podManagementPolicy", "OrderedReady") != "Parallel"
        min_ready = int(ss["spec"].get("minReadySeconds") or 0)
        slots: list[Obj | None] = [None] * count
        condemned: list[Obj] = []
        pod: Obj | None
        for pod in owned:
            index = ordinal(ss, pod)
            if index is None:
                continue
            if index < count:
                slots[index] = pod
            else:
                condemned.append(pod)
        alive = {p["metadata"]["name"]: p for p in owned}
        current_template = history.template_of(current)

        def versioned(index: int) -> Obj:
            if strategy.get("type") == "RollingUpdate" and partition is not None \
                    and index < int(partition):
                return self._new_pod(ss, current_template, current, index)
            return self._new_pod(ss, ss["spec"].get("template") or {}, update, index)

        def result(wake: float | None = None) -> tuple[list[Obj], float | None]:
            return list(alive.values()), wake

        for index in range(count):
            pod = slots[index]
            if pod is not None and is_terminal(pod):
                self._delete(ss, pod)
                alive.pop(pod["metadata"]["name"], None)
                pod = None
            if pod is None:
                made = self._create(ss, versioned(index))
                alive[made["metadata"]["name"]] = made
                slots[index] = made
                if monotonic:
                    return result()
                continue
            if terminating(pod) or not running_and_ready(pod):
                if monotonic:
                    return result()
                continue
            wait = available_in(pod, min_ready, time.time())
            if wait and monotonic:
                return result(wait)
        for pod in sorted(condemned, key=lambda p: ordinal(ss, p) or 0, reverse=True):
            if terminating(pod):
                if monotonic:
                    return result()
                continue
            unhealthy = [p for p in slots + condemned if p is not None and p is not pod and
                         (terminating(p) or not running_and_ready(p))]
            if monotonic and unhealthy:
                return result()
            self._delete(ss, pod)
            alive.pop(pod["metadata"]["name"], None)
            if monotonic:
                return result()
        if strategy.get("type") != "RollingUpdate":
            return result()
        for index in range(count - 1, int(partition or 0) - 1, -1):
            pod = slots[index]
            assert pod is not None
            if revision_of(pod) != update["metadata"]["name"] and not terminating(pod):
                self._delete(ss, pod)
                alive.pop(pod["metadata"]["name"], None)
                return result()
            if terminating(pod) or not running_and_ready(pod):
                return result()
        return result()

    def _create(self, ss: Obj, pod: Obj) -> Obj:
        name = pod["metadata"]["name"]
        try:
            made = self.store.create("pods", ss["metadata"]["namespace"], pod, user=USER)
        except ApiError as exc:
            self._event(ss, "Warning", "FailedCreate",
                        f"create Pod {name} in StatefulSet {ss['metadata']['name']} failed "
                        f"error: {exc.message}")
            raise
        self._event(ss, "Normal", "SuccessfulCreate",
                    f"create Pod {name} in StatefulSet {ss['metadata']['name']} successful")
        return made

    def _delete(self, ss: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        try:
            self.store.delete("pods", pod["metadata"]["namespace"], name, user=USER)
        except ApiError as exc:
            if exc.status == 404:
                return
            self._event(ss, "Warning", "FailedDelete",
                        f"delete Pod {name} in StatefulSet {ss['metadata']['name']} failed "
                        f"error: {exc.message}")
            raise
        self._event(ss, "Normal", "SuccessfulDelete",
                    f"delete Pod {name} in StatefulSet {ss['metadata']['name']} successful")

    def _event(self, ss: Obj, type_: str, reason: str, message: str) -> None:
        self.manager.events.record(ss, "statefulsets", type_, reason, message, COMPONENT)

    # -- status ----------------------------------------------------------------------------------
    def _write_status(self, ss: Obj, current: Obj, update: Obj, pods: list[Obj]) -> None:
        now = time.time()
        min_ready = int(ss["spec"].get("minReadySeconds") or 0)
        created = [p for p in pods if phase(p)]
        settled = [p for p in created if not terminating(p)]
        ready = [p for p in pods if running_and_ready(p)]
        status = {
            "observedGeneration": ss["metadata"].get("generation", 1),
            "replicas": len(created),
            "readyReplicas": len(ready),
            "currentReplicas": sum(1 for p in settled
                                   if revision_of(p) == current["metadata"]["name"]),
            "updatedReplicas": sum(1 for p in settled
                                   if revision_of(p) == update["metadata"]["name"]),
            "availableReplicas": sum(1 for p in ready if available_in(p, min_ready, now) == 0),
            "currentRevision": current["metadata"]["name"],
            "updateRevision": update["metadata"]["name"],
            "collisionCount": int((ss.get("status") or {}).get("collisionCount") or 0),
        }
        strategy = (ss["spec"].get("updateStrategy") or {}).get("type")
        if strategy == "RollingUpdate" and status["updatedReplicas"] == status["replicas"] \
                and status["readyReplicas"] == status["replicas"]:  # completeRollingUpdate
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        status = omit_zero(status, keep=("replicas", "availableReplicas", "collisionCount"))
        if status == (ss.get("status") or {}):
            return
        updated = copy.deepcopy(ss)
        updated["status"] = status
        self.store.update("statefulsets", ss["metadata"]["namespace"], updated,
                          subresource="status", user=USER)
