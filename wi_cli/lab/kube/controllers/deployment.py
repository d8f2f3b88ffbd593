"""The Deployment controller (pkg/controller/deployment: sync.go, rolling.go, recreate.go,
progress.go and util/deployment_util.go), for what ``kubectl rollout`` and a pod template
change need:

* the ReplicaSet of the current template is the oldest one whose template equals it ignoring
  the ``pod-template-hash`` label, else a new ``<deployment>-<hash>`` with that label in its
  template and selector, the ``deployment.kubernetes.io/revision`` (one more than the old
  ones), ``desired-replicas`` and ``max-replicas`` annotations, and a controller reference;
* RollingUpdate scales the new ReplicaSet up within ``maxSurge`` and the old ones down within
  ``maxUnavailable`` as pods become available; Recreate scales the old ones to zero and waits
  for their pods to go before scaling the new one up;
* a change of ``spec.replicas`` alone is a scaling event: the active ReplicaSet is resized, or
  all of them proportionally in the middle of a rollout;
* status: replica counts, ``Available`` and ``Progressing`` (``NewReplicaSetAvailable`` once
  done, ``ProgressDeadlineExceeded`` after ``progressDeadlineSeconds`` without progress), the
  new ReplicaSet's ``ReplicaFailure``; old ReplicaSets beyond ``revisionHistoryLimit`` are
  deleted; ``paused`` stops rollouts but not scaling.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

from ..errors import ApiError
from .common import (Obj, claim, compute_hash, controller_of, controller_ref,
                     drop_condition, find_condition, is_terminal, omit_zero,
                     set_condition, sort_by_creation)

from .deployment_util import (
    COMPONENT, DESIRED, HASH_LABEL, MAX_REPLICAS, REVISION, TIMESTAMPS, USER, by_size,
    condition, deadline_left, deployment_complete, deployment_progressing,
    deployment_timed_out, equal_ignore_hash, has_deadline, is_rolling, max_surge,
    max_unavailable, new_rs_replicas, replicas, revision_of, rs_status,
    set_new_rs_annotations, set_replicas_annotations)

if TYPE_CHECKING:
    from . import ControllerManager

class DeploymentController:
    def __init__(self, manager: "ControllerManager") -> None:
        self.manager = manager
        self.store = manager.store

    # -- entry point (syncDeployment) ------------------------------------------------------------
    def sync(self, namespace: str, name: str) -> float | None:
        d = self.store.try_get("deployments", namespace, name)
        if d is None or self.manager.managed_elsewhere("deployments", d):
            return None
        listed, _ = self.store.list("replicasets", namespace)
        rs_list = claim(self.store, d, "apps/v1", "Deployment", "replicasets", listed, USER)
        if d["metadata"].get("deletionTimestamp"):
            new, old = self._new_and_old(d, rs_list, create=False)
            self._write_status(d, self._calculate_status(d, old + ([new] if new else []), new))
            return None
        d = self._check_paused_conditions(d)
        if d["spec"].get("paused") or self._is_scaling_event(d, rs_list):
            return self._sync_scale(d, rs_list)
        if not is_rolling(d):
            return self._rollout_recreate(d, rs_list)
        return self._rollout_rolling(d, rs_list)

    # -- replica sets --------------------------------------------------------------------------
    def _new_and_old(self, d: Obj, rs_list: list[Obj], create: bool
                     ) -> tuple[Obj | None, list[Obj]]:
        template = d["spec"].get("template") or {}
        ordered = sort_by_creation(rs_list)
        existing = next((rs for rs in ordered
                         if equal_ignore_hash((rs.get("spec") or {}).get("template") or {},
                                              template)), None)
        old = [rs for rs in ordered if rs is not existing]
        new = self._new_replicaset(d, existing, old, create)
        return new, old

    def _new_replicaset(self, d: Obj, existing: Obj | None, old: list[Obj],
                        create: bool) -> Obj | None:
        """getNewReplicaSet."""
        new_revision = max((revision_of(rs) for rs in old), default=0) + 1
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = set_new_rs_annotations(d, rs, new_revision, exists=True)
            min_ready = d["spec"].get("minReadySeconds")
            if rs["spec"].get("minReadySeconds") != min_ready:
                if min_ready is None:
                    rs["spec"].pop("minReadySeconds", None)
                else:
                    rs["spec"]["minReadySeconds"] = min_ready
                changed = True
            if changed:  # refreshed in place: the caller's list holds it
                existing.clear()
                existing.update(self.store.update("replicasets", rs["metadata"]["namespace"],
                                                  rs, user=USER))
            rs = existing
            d_new = self._set_revision(d, rs)
            if has_deadline(d_new) and find_condition(d_new.get("status") or {},
                                                      "Progressing") is None:
                self._set_conditions(d_new, [condition(
                    "Progressing", "True", "FoundNewReplicaSet",
                    f'Found new replica set "{rs["metadata"]["name"]}"')])
            return rs
        if not create:
            return None
        return self._create_replicaset(d, old, new_revision)

    def _create_replicaset(self, d: Obj, old: list[Obj], new_revision: int) -> Obj:
        collisions = (d.get("status") or {}).get("collisionCount")
        template = copy.deepcopy(d["spec"].get("template") or {})
        pod_hash = compute_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        namespace = d["metadata"]["namespace"]
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{d['metadata']['name']}-{pod_hash}", "namespace": namespace,
                         "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [controller_ref(d, "apps/v1", "Deployment")]},
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        if d["spec"].get("minReadySeconds") is not None:
            rs["spec"]["minReadySeconds"] = d["spec"]["minReadySeconds"]
        rs["spec"]["replicas"] = new_rs_replicas(d, old + [rs], rs)
        set_new_rs_annotations(d, rs, new_revision, exists=False)
        try:
            created = self.store.create("replicasets", namespace, rs, user=USER)
        except ApiError as exc:
            if exc.status != 409:
                raise
            found = self.store.try_get("replicasets", namespace, rs["metadata"]["name"])
            if found is not None and (controller_of(found) or {}).get("uid") == \
                    d["metadata"]["uid"] and equal_ignore_hash(found["spec"]["template"],
                                                               d["spec"]["template"]):
                return found
            # a hash collision with someone else's ReplicaSet: count it, hash again next time
            status = copy.deepcopy(d.get("status") or {})
            status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
            self._write_status(d, status)
            raise
        if replicas(created):
            self._event(d, "Normal", "ScalingReplicaSet", f"Scaled up replica set "
                        f"{created['metadata']['name']} from 0 to {replicas(created)}")
        d_new = self._set_revision(d, created)
        if has_deadline(d_new):
            self._set_conditions(d_new, [condition(
                "Progressing", "True", "NewReplicaSetCreated",
                f'Created new replica set "{created["metadata"]["name"]}"')])
        return created

    def _set_revision(self, d: Obj, rs: Obj) -> Obj:
        """SetDeploymentRevision: the Deployment carries its new ReplicaSet's revision."""
        revision = (rs["metadata"].get("annotations") or {}).get(REVISION)
        annotations = d["metadata"].get("annotations") or {}
        if not revision or annotations.get(REVISION) == revision:
            return d
        updated = copy.deepcopy(d)
        updated["metadata"].setdefault("annotations", {})[REVISION] = revision
        stored = self.store.update("deployments", d["metadata"]["namespace"], updated,
                                   user=USER)
        d.clear()
        d.update(stored)
        return d

    def _set_conditions(self, d: Obj, conditions: list[Obj]) -> None:
        status = copy.deepcopy(d.get("status") or {})
        current = list(status.get("conditions") or [])
        for cond in conditions:
            current = set_condition(current, cond, TIMESTAMPS)
        status["conditions"] = current
        self._write_status(d, status)

    def _write_status(self, d: Obj, status: Obj) -> None:
        if status == (d.get("status") or {}):
            return
        updated = copy.deepcopy(d)
        updated["status"] = status
        stored = self.store.update("deployments", d["metadata"]["namespace"], updated,
                                   subresource="status", user=USER)
        d.clear()
        d.update(stored)

    def _scale_rs(self, d: Obj, rs: Obj, size: int, operation: str | None = None) -> bool:
        """scaleReplicaSet(AndRecordEvent); ``rs`` is updated in place."""
        size_changes = replicas(rs) != size
        if operation is None:
            if not size_changes:
                return False
            operation = "up" if size > replicas(rs) else "down"
        updated = copy.deepcopy(rs)
        annotations_change = set_replicas_annotations(updated, replicas(d),
                                                      replicas(d) + max_surge(d))
        if not (size_changes or annotations_change):
            return False
        before = replicas(rs)
        updated["spec"]["replicas"] = size
        stored = self.store.update("replicasets", rs["metadata"]["namespace"], updated,
                                   user=USER)
        rs.clear()
        rs.update(stored)
        if size_changes:
            verb = f"Scaled {operation} replica set" if operation else "Scaled replica set"
            self._event(d, "Normal", "ScalingReplicaSet",
                        f"{verb} {rs['metadata']['name']} from {before} to {size}")
        return size_changes

    def _event(self, d: Obj, type_: str, reason: str, message: str) -> None:
        self.manager.events.record(d, "deployments", type_, reason, message, COMPONENT)

    # -- paused, scaling (sync.go) ---------------------------------------------------------------
    def _check_paused_conditions(self, d: Obj) -> Obj:
        if not has_deadline(d):
            return d
        cond = find_condition(d.get("status") or {}, "Progressing")
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return d
        paused_cond = cond is not None and cond.get("reason") == "DeploymentPaused"
        if d["spec"].get("paused") and not paused_cond:
            self._set_conditions(d, [condition("Progressing", "Unknown", "DeploymentPaused",
                                               "Deployment is paused")])
        elif not d["spec"].get("paused") and paused_cond:
            self._set_conditions(d, [condition("Progressing", "Unknown", "DeploymentResumed",
                                               "Deployment is resumed")])
        return d

    def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new, old = self._new_and_old(d, rs_list, create=False)
        for rs in old + ([new] if new else []):
            if not replicas(rs):
                continue
            desired = (rs["metadata"].get("annotations") or {}).get(DESIRED, "")
            if desired.isdigit() and int(desired) != replicas(d):
                return True
        return False

    def _sync_scale(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new, old = self._new_and_old(d, rs_list, create=False)
        self._scale(d, new, old)
        if d["spec"].get("paused"):
            self._cleanup(d, old)
        self._write_status(d, self._calculate_status(d, old + ([new] if new else []), new))
        return None

    def _scale(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        active = [rs for rs in old + ([new] if new else []) if replicas(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new or (sort_by_creation(old)[-1] if old else None))
            if target is not None and replicas(target) != replicas(d):
                self._scale_rs(d, target, replicas(d))
            return
        desired = ((new or {}).get("metadata", {}).get("annotations") or {}).get(DESIRED)
        if new is not None and replicas(new) == replicas(d) and desired == str(replicas(d)) \
                and rs_status(new, "availableReplicas") == replicas(d):
            for rs in old:
                if replicas(rs) > 0:
                    self._scale_rs(d, rs, 0)
            return
        if is_rolling(d):
            self._scale_proportionally(d, active)

    def _scale_proportionally(self, d: Obj, active: list[Obj]) -> None:
        allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
        to_add = allowed - sum(replicas(rs) for rs in active)
        operation = "up" if to_add > 0 else "down" if to_add < 0 else ""
        ordered = sorted(active, key=by_size(newer_first=to_add > 0))
        added = 0
        sizes = []
        for rs in ordered:
            proportion = 0
            if to_add and replicas(rs) and to_add != added:
                fraction = self._fraction(d, rs)
                allowed_left = to_add - added
                proportion = min(fraction, allowed_left) if to_add > 0 else max(fraction,
                                                                                 allowed_left)
            sizes.append(replicas(rs) + proportion)
            added += proportion
        for i, rs in enumerate(ordered):
            size = sizes[i] + (to_add - added if i == 0 and to_add else 0)
            self._scale_rs(d, rs, max(size, 0), operation)

    @staticmethod
    def _fraction(d: Obj, rs: Obj) -> int:
        """getReplicaSetFraction."""
        if replicas(d) == 0:
            return -replicas(rs)
        ceiling = replicas(d) + max_surge(d)
        annotated = (rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS, "")
        base = int(annotated) if annotated.isdigit() else int(
            (d.get("status") or {}).get("replicas") or 0)
        if base == 0:
            return 0
        return math.floor(replicas(rs) * ceiling / base + 0.5) - replicas(rs)

    # -- rollouts --------------------------------------------------------------------------------
    def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new, old = self._new_and_old(d, rs_list, create=True)
        assert new is not None
        all_rs = old + [new]
        if self._reconcile_new(d, all_rs, new) or self._reconcile_old(d, all_rs, old, new):
            return self._sync_rollout_status(d, all_rs, new)
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(d, old)
        return self._sync_rollout_status(d, all_rs, new)

    def _reconcile_new(self, d: Obj, all_rs: list[Obj], new: Obj) -> bool:
        if replicas(new) == replicas(d):
            return False
        if replicas(new) > replicas(d):
            return self._scale_rs(d, new, replicas(d))
        return self._scale_rs(d, new, new_rs_replicas(d, all_rs, new))

    def _reconcile_old(self, d: Obj, all_rs: list[Obj], old: list[Obj], new: Obj) -> bool:
        old = [rs for rs in old if replicas(rs) > 0]
        if not old:
            return False
        min_available = replicas(d) - max_unavailable(d)
        new_unavailable = replicas(new) - rs_status(new, "availableReplicas")
        budget = sum(replicas(rs) for rs in all_rs) - min_available - new_unavailable
        if budget <= 0:
            return False
        cleaned = 0
        for rs in sort_by_creation(old):  # cleanupUnhealthyReplicas
            if cleaned >= budget:
                break
            unhealthy = replicas(rs) - rs_status(rs, "availableReplicas")
            if replicas(rs) == 0 or unhealthy <= 0:
                continue
            count = min(budget - cleaned, unhealthy)
            self._scale_rs(d, rs, replicas(rs) - count)
            cleaned += count
        available = sum(rs_status(rs, "availableReplicas") for rs in all_rs)
        scaled = 0
        if available > min_available:  # scaleDownOldReplicaSetsForRollingUpdate
            total = available - min_available
            for rs in sort_by_creation(old):
                if scaled >= total:
                    break
                if replicas(rs) == 0:
                    continue
                count = min(replicas(rs), total - scaled)
                self._scale_rs(d, rs, replicas(rs) - count)
                scaled += count
        return cleaned + scaled > 0

    def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new, old = self._new_and_old(d, rs_list, create=False)
        all_rs = old + ([new] if new else [])
        scaled = False
        for rs in old:
            if replicas(rs) > 0:
                scaled = self._scale_rs(d, rs, 0) or scaled
        if scaled or self._old_pods_running(d, new, old):
            return self._sync_rollout_status(d, all_rs, new)
        if new is None:
            new, old = self._new_and_old(d, old, create=True)
            all_rs = old + ([new] if new else [])
        if new is not None and replicas(new) != replicas(d):
            self._scale_rs(d, new, replicas(d))
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(d, old)
        return self._sync_rollout_status(d, all_rs, new)

    def _old_pods_running(self, d: Obj, new: Obj | None, old: list[Obj]) -> bool:
        if sum(rs_status(rs, "replicas") for rs in old):
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old}
        pods, _ = self.store.list("pods", d["metadata"]["namespace"])
        return any((controller_of(p) or {}).get("uid") in old_uids and not is_terminal(p)
                   for p in pods)

    def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        """cleanupDeployment: old ReplicaSets beyond revisionHistoryLimit, oldest first."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        surplus = len(alive) - int(limit)
        if surplus <= 0:
            return
        ordered = sorted(alive, key=lambda rs: (revision_of(rs),
                                                rs["metadata"].get("creationTimestamp") or ""))
        for rs in ordered[:surplus]:
            if rs_status(rs, "replicas") or replicas(rs) or rs["metadata"].get(
                    "generation", 1) > rs_status(rs, "observedGeneration"):
                continue
            try:
                self.store.delete("replicasets", rs["metadata"]["namespace"],
                                  rs["metadata"]["name"], user=USER)
            except ApiError as exc:
                if exc.status != 404:
                    raise

    # -- status (progress.go, calculateStatus) ---------------------------------------------------
    def _calculate_status(self, d: Obj, all_rs: list[Obj], new: Obj | None) -> Obj:
        available = sum(rs_status(rs, "availableReplicas") for rs in all_rs)
        total = sum(replicas(rs) for rs in all_rs)
        old = d.get("status") or {}
        status = omit_zero({
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": sum(rs_status(rs, "replicas") for rs in all_rs),
            "updatedReplicas": rs_status(new, "replicas") if new else 0,
            "readyReplicas": sum(rs_status(rs, "readyReplicas") for rs in all_rs),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        })
        conditions = list(old.get("conditions") or [])
        if available >= replicas(d) - max_unavailable(d):
            cond = condition("Available", "True", "MinimumReplicasAvailable",
                             "Deployment has minimum availability.")
        else:
            cond = condition("Available", "False", "MinimumReplicasUnavailable",
                             "Deployment does not have minimum availability.")
        status["conditions"] = set_condition(conditions, cond, TIMESTAMPS)
        if "collisionCount" in old:
            status["collisionCount"] = old["collisionCount"]
        return status

    def _sync_rollout_status(self, d: Obj, all_rs: list[Obj], new: Obj | None) -> float | None:
        status = self._calculate_status(d, all_rs, new)
        conditions = status["conditions"]
        rs_name = new["metadata"]["name"] if new else None
        subject = f'ReplicaSet "{rs_name}"' if rs_name else \
            f'Deployment "{d["metadata"]["name"]}"'
        if has_deadline(d):
            current = find_condition(d.get("status") or {}, "Progressing")
            done = status.get("replicas", 0) == status.get("updatedReplicas", 0) and \
                current is not None and current.get("reason") == "NewReplicaSetAvailable"
            if not done:
                if deployment_complete(d, status):
                    conditions = set_condition(conditions, condition(
                        "Progressing", "True", "NewReplicaSetAvailable",
                        f"{subject} has successfully progressed."), TIMESTAMPS)
                elif deployment_progressing(d, status):
                    cond = condition("Progressing", "True", "ReplicaSetUpdated",
                                     f"{subject} is progressing.")
                    if current is not None and current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    conditions = drop_condition(conditions, "Progressing") + [cond]
                elif deployment_timed_out(d):
                    conditions = set_condition(conditions, condition(
                        "Progressing", "False", "ProgressDeadlineExceeded",
                        f"{subject} has timed out progressing."), TIMESTAMPS)
        failure = self._replica_failure(all_rs, new)
        conditions = set_condition(conditions, failure, TIMESTAMPS) if failure else \
            drop_condition(conditions, "ReplicaFailure")
        status["conditions"] = conditions
        if status == (d.get("status") or {}):
            return self._stuck_requeue(d, status)
        self._write_status(d, status)
        return self._stuck_requeue(d, status)

    @staticmethod
    def _replica_failure(all_rs: list[Obj], new: Obj | None) -> Obj | None:
        for rs in ([new] if new else []) + all_rs:
            cond = find_condition(rs.get("status") or {}, "ReplicaFailure")
            if cond is not None:
                return {"type": "ReplicaFailure", "status": cond.get("status", "True"),
                        "lastUpdateTime": cond.get("lastTransitionTime"),
                        "lastTransitionTime": cond.get("lastTransitionTime"),
                        "reason": cond.get("reason"), "message": cond.get("message")}
        return None

    @staticmethod
    def _stuck_requeue(d: Obj, status: Obj) -> float | None:
        """requeueStuckDeployment: look again when the progress deadline passes."""
        cond = find_condition(d.get("status") or {}, "Progressing")
        if cond is None or deployment_complete(d, status) or \
                cond.get("reason") == "ProgressDeadlineExceeded":
            return None
        left = deadline_left(d)
        return None if left is None else max(left, 0.0) + 1.0
