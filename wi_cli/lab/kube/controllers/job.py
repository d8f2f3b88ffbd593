"""The Job controller (pkg/controller/job/job_controller.go) for NonIndexed Jobs, and the
TTL-after-finished controller.

Pods (``generateName: <job>-``, the labels ``job-name``, ``batch.kubernetes.io/job-name``,
``controller-uid`` and ``batch.kubernetes.io/controller-uid`` that the API server put in the
template) run ``parallelism`` at a time until ``completions`` succeed; each finished pod is
counted once (Kubernetes uses a tracking finalizer; the lab remembers the pods it counted),
and a pod deleted before it finished counts as failed. More than ``backoffLimit`` failures,
or ``activeDeadlineSeconds`` passed, fail the Job; replacements after a failure wait
10 s × 2^(failures-1), at most 6 min. A finished Job gets ``SuccessCriteriaMet`` then
``Complete`` (or ``FailureTarget`` then ``Failed``), as since Kubernetes 1.31
(https://kubernetes.io/blog/2025/05/15/kubernetes-1-33-jobs-success-policy-goes-ga/).
``suspend`` deletes the active pods. ``completionMode: Indexed`` is run as NonIndexed.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

from ..errors import ApiError
from . import gc
from .common import (SA_PREFIX, Obj, claim, controller_ref, deletion_rank, find_condition,
                     is_active, is_ready, now_rfc3339, omit_zero, parse_time, phase,
                     pod_from_template)

if TYPE_CHECKING:
    from . import ControllerManager

USER = SA_PREFIX + "job-controller"
COMPONENT = "job-controller"
TTL_USER = SA_PREFIX + "ttl-after-finished-controller"
BACKOFF_BASE, BACKOFF_MAX = 10.0, 360.0
FINISHED = ("Complete", "Failed")


def finished_at(job: Obj) -> float | None:
    for kind in FINISHED:
        cond = find_condition(job.get("status") or {}, kind)
        if cond is not None and cond.get("status") == "True":
            return parse_time((job.get("status") or {}).get("completionTime")
                              or cond.get("lastTransitionTime")) or time.time()
    return None


def condition(kind: str, reason: str, message: str, status: str = "True") -> Obj:
    now = now_rfc3339()
    return {"type": kind, "status": status, "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


class JobController:
    def __init__(self, manager: "ControllerManager") -> None:
        self.manager = manager
        self.store = manager.store
        self._tracked: dict[str, dict[str, str]] = {}  # job uid -> pod uid -> active|counted

    def sync(self, namespace: str, name: str) -> float | None:
        job = self.store.try_get("jobs", namespace, name)
        if job is None:
            return None
        uid = job["metadata"]["uid"]
        done = finished_at(job)
        if done is not None:
            self._tracked.pop(uid, None)
            return self._expire(job, done)
        if job["metadata"].get("deletionTimestamp"):
            return None
        pods, _ = self.store.list("pods", namespace)
        owned = claim(self.store, job, "batch/v1", "Job", "pods", pods, USER)
        tracked = dict(self._tracked.get(uid, {}))
        succeeded, failed = self._count(job, owned, tracked)
        active = [p for p in owned if is_active(p)]
        spec = job["spec"]
        status = copy.deepcopy(job.get("status") or {})
        conditions = list(status.get("conditions") or [])
        if not spec.get("suspend") and not status.get("startTime"):
            status["startTime"] = now_rfc3339()
        outcome = self._outcome(job, status, succeeded, failed, active)
        wake: float | None = None
        if outcome is not None:
            kind, reason, message = outcome
            for pod in active:
                self._delete(job, pod, tracked)
            active = []
            interim = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            conditions += [condition(interim, reason, message), condition(kind, reason, message)]
            if kind == "Complete":
                status["completionTime"] = now_rfc3339()
                self._event(job, "Normal", "Completed", "Job completed")
            else:
                self._event(job, "Warning", reason, message)
        elif spec.get("suspend"):
            for pod in active:
                self._delete(job, pod, tracked)
            active = []
            if (find_condition(status, "Suspended") or {}).get("status") != "True":
                conditions = [c for c in conditions if c.get("type") != "Suspended"]
                conditions.append(condition("Suspended", "JobSuspended", "Job suspended"))
                self._event(job, "Normal", "Suspended", "Job suspended")
        else:
            if (find_condition(status, "Suspended") or {}).get("status") == "True":
                conditions = [c for c in conditions if c.get("type") != "Suspended"]
                conditions.append(condition("Suspended", "JobResumed", "Job resumed", "False"))
                status["startTime"] = now_rfc3339()
                self._event(job, "Normal", "Resumed", "Job resumed")
            active, wake = self._manage(job, owned, active, succeeded, failed, tracked)
            deadline = spec.get("activeDeadlineSeconds")
            started = parse_time(status.get("startTime"))
            if deadline and started is not None:
                left = started + int(deadline) - time.time()
                wake = left if wake is None else min(wake, left)
        status.update({"active": len(active), "succeeded": succeeded, "failed": failed,
                       "ready": sum(1 for p in active if is_ready(p)), "terminating": 0,
                       "uncountedTerminatedPods": {}, "conditions": conditions})
        status = omit_zero(status, keep=("ready", "terminating", "uncountedTerminatedPods"))
        if status != (job.get("status") or {}):
            updated = copy.deepcopy(job)
            updated["status"] = status
            self.store.update("jobs", namespace, updated, subresource="status", user=USER)
        self._tracked[uid] = tracked
        if outcome is not None:
            self._tracked.pop(uid, None)
            return self._expire({**job, "status": status}, time.time())
        return None if wake is None else max(wake, 0.0)

    def _count(self, job: Obj, owned: list[Obj], tracked: dict[str, str]) -> tuple[int, int]:
        status = job.get("status") or {}
        succeeded, failed = int(status.get("succeeded") or 0), int(status.get("failed") or 0)
        present = {p["metadata"]["uid"]: p for p in owned}
        for pod_uid, pod in present.items():
            if tracked.get(pod_uid) == "counted":
                continue
            if phase(pod) == "Succeeded":
                succeeded += 1
            elif phase(pod) == "Failed":
                failed += 1
            else:
                tracked[pod_uid] = "active"
                continue
            tracked[pod_uid] = "counted"
        for pod_uid, state in list(tracked.items()):
            if pod_uid not in present:
                failed += state == "active"  # deleted before it finished
                del tracked[pod_uid]
        return succeeded, failed

    @staticmethod
    def _outcome(job: Obj, status: Obj, succeeded: int, failed: int,
                 active: list[Obj]) -> tuple[str, str, str] | None:
        spec = job["spec"]
        if failed > int(spec.get("backoffLimit", 6)):
            return "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        started = parse_time(status.get("startTime"))
        deadline = spec.get("activeDeadlineSeconds")
        if deadline and started is not None and time.time() - started >= int(deadline):
            return "Failed", "DeadlineExceeded", "Job was active longer than specified deadline"
        completions = spec.get("completions")
        if (completions is not None and succeeded >= int(completions)) or (
                completions is None and succeeded > 0 and not active):
            return "Complete", "CompletionsReached", "Reached expected number of succeeded pods"
        return None

    def _manage(self, job: Obj, owned: list[Obj], active: list[Obj], succeeded: int,
                failed: int, tracked: dict[str, str]) -> tuple[list[Obj], float | None]:
        spec = job["spec"]
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        if completions is None:
            want = len(active) if succeeded > 0 else parallelism
        else:
            want = min(parallelism, int(completions) - succeeded)
        diff = want - len(active)
        if diff < 0:
            now = time.time()
            for pod in sorted(active, key=lambda p: deletion_rank(p, now))[:-diff]:
                self._delete(job, pod, tracked)
                active = [p for p in active if p is not pod]
            return active, None
        if diff == 0:
            return active, None
        wait = self._backoff(owned, failed)
        if wait > 0:
            return active, wait
        batch = 1
        while diff > 0:
            for _ in range(min(batch, diff)):
                pod = pod_from_template(spec.get("template") or {}, job,
                                        controller_ref(job, "batch/v1", "Job"))
                try:
                    made = self.store.create("pods", job["metadata"]["namespace"], pod,
                                             user=USER)
                except ApiError as exc:
                    self._event(job, "Warning", "FailedCreate", f"Error creating: {exc.message}")
                    raise
                tracked[made["metadata"]["uid"]] = "active"
                active.append(made)
                diff -= 1
                self._event(job, "Normal", "SuccessfulCreate",
                            f"Created pod: {made['metadata']['name']}")
            batch *= 2
        return active, None

    @staticmethod
    def _backoff(owned: list[Obj], failed: int) -> float:
        """Seconds before a failed pod may be replaced (the job's pod failure backoff)."""
        if not failed:
            return 0.0
        ends = [parse_time(s.get("state", {}).get("terminated", {}).get("finishedAt"))
                for p in owned if phase(p) == "Failed"
                for s in (p.get("status") or {}).get("containerStatuses") or []]
        last = max((e for e in ends if e is not None), default=None)
        if last is None:
            return 0.0
        delay = min(BACKOFF_BASE * 2 ** (failed - 1), BACKOFF_MAX)
        return max(0.0, last + delay - time.time())

    def _delete(self, job: Obj, pod: Obj, tracked: dict[str, str]) -> None:
        tracked.pop(pod["metadata"]["uid"], None)  # removed on purpose: not a failure
        try:
            self.store.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"],
                              user=USER)
        except ApiError as exc:
            if exc.status != 404:
                raise
            return
        self._event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")

    def _event(self, job: Obj, type_: str, reason: str, message: str) -> None:
        self.manager.events.record(job, "jobs", type_, reason, message, COMPONENT)

    def _expire(self, job: Obj, done: float) -> float | None:
        """ttlSecondsAfterFinished: the finished Job (and, in the foreground, its pods) goes."""
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None:
            return None
        left = done + int(ttl) - time.time()
        if left > 0:
            return left
        current = self.store.try_get("jobs", job["metadata"]["namespace"],
                                     job["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != job["metadata"]["uid"]:
            return None
        try:
            self.store.delete("jobs", job["metadata"]["namespace"], job["metadata"]["name"],
                              user=TTL_USER, dependents=lambda owner: gc.delete_dependents(
                                  self.store, owner, "jobs"))
        except ApiError as exc:
            if exc.status != 404:
                raise
        return None
