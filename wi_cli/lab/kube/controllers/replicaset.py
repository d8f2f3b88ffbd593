"""The ReplicaSet controller (pkg/controller/replicaset/replica_set.go): keeps ``spec.replicas``
active pods that match the selector, adopting matching orphans, and reports their readiness.

Pods are created in slow-start batches (1, 2, 4, ...) that stop at the first failure; a
failure (say, the webhook or the ServiceAccount admission refusing the pod) becomes the
``ReplicaFailure`` condition and a ``FailedCreate`` event, and the sync is retried with
backoff. Surplus pods are deleted in ``controller.ActivePods`` order.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

from ..errors import ApiError
from .common import (SA_PREFIX, Obj, available_in, claim, controller_ref, crashloop_delay,
                     deletion_rank,
                     drop_condition, is_active, is_ready, now_rfc3339, omit_zero,
                     pod_from_template)

if TYPE_CHECKING:
    from . import ControllerManager

USER = SA_PREFIX + "replicaset-controller"
COMPONENT = "replicaset-controller"
BURST = 500  # burstReplicas: pods created or deleted per sync at most


class ReplicaSetController:
    def __init__(self, manager: "ControllerManager") -> None:
        self.manager = manager
        self.store = manager.store

    def sync(self, namespace: str, name: str) -> float | None:
        rs = self.store.try_get("replicasets", namespace, name)
        if rs is None or self.manager.managed_elsewhere("replicasets", rs):
            return None
        pods, _ = self.store.list("pods", namespace)
        owned = claim(self.store, rs, "apps/v1", "ReplicaSet", "pods",
                      [p for p in pods if is_active(p)], USER)
        error: ApiError | None = None
        diff = len(owned) - int(rs["spec"].get("replicas", 1))
        retry = None
        if not rs["metadata"].get("deletionTimestamp"):
            if diff < 0:
                created, error, retry = self._create(rs, min(-diff, BURST), pods)
                owned += created
            elif diff > 0:
                owned, error = self._delete(rs, owned, min(diff, BURST))
        wake = self._write_status(rs, owned, error, diff)
        if error is not None:
            raise error
        return min((t for t in (wake, retry) if t is not None), default=None)

    def _create(self, rs: Obj, count: int, pods: list[Obj]
                ) -> tuple[list[Obj], ApiError | None, float | None]:
        wait = crashloop_delay(rs, pods)
        if wait:
            return [], None, wait
        template = rs["spec"].get("template") or {}
        created: list[Obj] = []
        batch = 1
        while len(created) < count:
            for _ in range(min(batch, count - len(created))):
                pod = pod_from_template(template, rs, controller_ref(rs, "apps/v1", "ReplicaSet"))
                try:
                    made = self.store.create("pods", rs["metadata"]["namespace"], pod, user=USER)
                except ApiError as exc:
                    self.manager.events.record(rs, "replicasets", "Warning", "FailedCreate",
                                               f"Error creating: {exc.message}", COMPONENT)
                    return created, exc, None
                created.append(made)
                self.manager.events.record(rs, "replicasets", "Normal", "SuccessfulCreate",
                                           f"Created pod: {made['metadata']['name']}",
                                           COMPONENT)
            batch *= 2
        return created, None, None

    def _delete(self, rs: Obj, owned: list[Obj], count: int
                ) -> tuple[list[Obj], ApiError | None]:
        now = time.time()
        ranked = sorted(owned, key=lambda p: deletion_rank(p, now))
        doomed, kept = ranked[:count], ranked[count:]
        for pod in doomed:
            try:
                self.store.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"],
                                  user=USER)
            except ApiError as exc:
                if exc.status == 404:
                    continue
                self.manager.events.record(rs, "replicasets", "Warning", "FailedDelete",
                                           f"Error deleting: {exc.message}", COMPONENT)
                return kept + doomed[doomed.index(pod):], exc
            self.manager.events.record(rs, "replicasets", "Normal", "SuccessfulDelete",
                                       f"Deleted pod: {pod['metadata']['name']}", COMPONENT)
        return kept, None

    def _write_status(self, rs: Obj, pods: list[Obj], error: ApiError | None,
                      diff: int) -> float | None:
        """calculateStatus; returns when a pod becomes available (minReadySeconds)."""
        now = time.time()
        min_ready = int(rs["spec"].get("minReadySeconds") or 0)
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get(
            "labels") or {}
        waits = [available_in(p, min_ready, now) for p in pods]
        old = rs.get("status") or {}
        conditions = list(old.get("conditions") or [])
        failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
        if error is not None and failure is None:
            conditions.append({"type": "ReplicaFailure", "status": "True",
                               "lastTransitionTime": now_rfc3339(),
                               "reason": "FailedCreate" if diff < 0 else "FailedDelete",
                               "message": error.message})
        elif error is None and failure is not None:
            conditions = drop_condition(conditions, "ReplicaFailure")
        status = omit_zero({
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(1 for p in pods if all(
                (p["metadata"].get("labels") or {}).get(k) == v
                for k, v in template_labels.items())),
            "readyReplicas": sum(1 for p in pods if is_ready(p)),
            "availableReplicas": sum(1 for w in waits if w == 0.0),
            "observedGeneration": rs["metadata"].get("generation", 1),
            "conditions": conditions,
        }, keep=("replicas",))
        if status != old:
            updated = copy.deepcopy(rs)
            updated["status"] = status
            self.store.update("replicasets", rs["metadata"]["namespace"], updated,
                              subresource="status", user=USER)
        pending = [w for w in waits if w]
        return min(pending) if pending else None

