"""The Deployment controller's pure helpers (pkg/controller/deployment/util/deployment_util.go):
revisions, rollout arithmetic, conditions and the ReplicaSet annotations, over plain objects."""

from __future__ import annotations

import functools
import time
from typing import Any

from .common import (SA_PREFIX, Obj, find_condition, now_rfc3339, parse_time, scaled_value,
                     template_without_hash)

USER = SA_PREFIX + "deployment-controller"
COMPONENT = "deployment-controller"
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
NOT_COPIED = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
              DESIRED, MAX_REPLICAS, "deprecated.deployment.rollback.to"}
MAX_REV_HISTORY_CHARS = 2000
NO_DEADLINE = 2**31 - 1
TIMESTAMPS = ("lastUpdateTime", "lastTransitionTime")


# -- pure helpers (deployment_util.go) ------------------------------------------------------------
def replicas(obj: Obj) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def rs_status(rs: Obj, key: str) -> int:
    return int((rs.get("status") or {}).get(key) or 0)


def is_rolling(d: Obj) -> bool:
    return (d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def fenceposts(d: Obj) -> tuple[int, int]:
    """ResolveFenceposts: maxSurge rounds up, maxUnavailable down; never both zero."""
    rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(d)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas(d))


def revision_of(rs: Obj) -> int:
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    return int(value) if value.isdigit() else 0


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return template_without_hash(a, HASH_LABEL) == template_without_hash(b, HASH_LABEL)


def has_deadline(d: Obj) -> bool:
    return d["spec"].get("progressDeadlineSeconds", 600) not in (None, NO_DEADLINE)


def condition(kind: str, status: str, reason: str, message: str) -> Obj:
    now = now_rfc3339()
    return {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED, str(desired)), (MAX_REPLICAS, str(maximum))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: the Deployment's own annotations, the new revision (and,
    for an old ReplicaSet brought back by a rollback, the revisions it had before)."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key not in NOT_COPIED and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    old = annotations.get(REVISION, "")
    old_number = int(old) if old.isdigit() else 0
    if old_number < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old:
            history = [r for r in annotations.get(REVISION_HISTORY, "").split(",") if r] + [old]
            while len(",".join(history)) > MAX_REV_HISTORY_CHARS:
                history.pop(0)
            annotations[REVISION_HISTORY] = ",".join(history)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def new_rs_replicas(d: Obj, all_rs: list[Obj], new_rs: Obj) -> int:
    """NewRSNewReplicas: how far the new ReplicaSet may grow now."""
    if not is_rolling(d):
        return replicas(d)
    current = sum(replicas(rs) for rs in all_rs)
    ceiling = replicas(d) + max_surge(d)
    if current >= ceiling:
        return replicas(new_rs)
    return replicas(new_rs) + min(ceiling - current, replicas(d) - replicas(new_rs))


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = replicas(d)
    return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = d.get("status") or {}

    def old_replicas(s: Obj) -> int:
        return s.get("replicas", 0) - s.get("updatedReplicas", 0)

    return (status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
            or old_replicas(status) < old_replicas(old)
            or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or status.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def deadline_left(d: Obj) -> float | None:
    """Seconds until the Progressing condition's lastUpdateTime passes the deadline."""
    cond = find_condition(d.get("status") or {}, "Progressing")
    since = parse_time((cond or {}).get("lastUpdateTime"))
    if cond is None or since is None or not has_deadline(d):
        return None
    return since + int(d["spec"].get("progressDeadlineSeconds", 600)) - time.time()


def deployment_timed_out(d: Obj) -> bool:
    cond = find_condition(d.get("status") or {}, "Progressing")
    if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True
    left = deadline_left(d)
    return left is not None and left < 0


def by_size(newer_first: bool) -> Any:
    def compare(a: Obj, b: Obj) -> int:
        if replicas(a) != replicas(b):
            return replicas(b) - replicas(a)
        ka = (a["metadata"].get("creationTimestamp") or "", a["metadata"]["name"])
        kb = (b["metadata"].get("creationTimestamp") or "", b["metadata"]["name"])
        if ka == kb:
            return 0
        return (-1 if ka > kb else 1) if newer_first else (-1 if ka < kb else 1)
    return functools.cmp_to_key(compare)
