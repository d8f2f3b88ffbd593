"""What the workload controllers share, after k8s.io/kubernetes/pkg/controller
(controller_utils.go, controller_ref_manager.go) and pkg/api/v1/pod (readiness).

Every write goes through the store's ordinary path (admission, validation, notifications), as
the real controllers write through the API server with their own service accounts.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..errors import ApiError
from ..selectors import match_label_selector_object

if TYPE_CHECKING:
    from ..store import KubeStore

Obj = dict[str, Any]

SA_PREFIX = "system:serviceaccount:kube-system:"


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc).timestamp()


# -- owner references (metav1.NewControllerRef, metav1.GetControllerOf) ---------------------------
def controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def selector_matches(selector: Obj | None, obj: Obj) -> bool:
    """metav1.LabelSelectorAsSelector: a missing selector selects nothing, ``{}`` everything."""
    if selector is None:
        return False
    return match_label_selector_object(selector, (obj.get("metadata") or {}).get("labels") or {})


def claim(store: "KubeStore", owner: Obj, api_version: str, kind: str, plural: str,
          candidates: Iterable[Obj], user: str,
          can_adopt: Callable[[Obj], bool] = lambda _: True) -> list[Obj]:
    """ClaimObjects of the ControllerRefManager: keep what the owner controls and still
    selects, release what it controls but no longer selects, adopt matching orphans."""
    selector = (owner.get("spec") or {}).get("selector")
    uid = owner["metadata"]["uid"]
    deleting = bool(owner["metadata"].get("deletionTimestamp"))
    claimed = []
    for obj in candidates:
        ref = controller_of(obj)
        matches = selector_matches(selector, obj)
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches:
                claimed.append(obj)
            elif not deleting:
                _set_owner_refs(store, plural, obj, user, drop=uid)
            continue
        if deleting or not matches or obj["metadata"].get("deletionTimestamp"):
            continue
        if not can_adopt(obj):
            continue
        adopted = _set_owner_refs(store, plural, obj, user,
                                  add=controller_ref(owner, api_version, kind))
        if adopted is not None:
            claimed.append(adopted)
    return claimed


def _set_owner_refs(store: "KubeStore", plural: str, obj: Obj, user: str,
                    add: Obj | None = None, drop: str | None = None) -> Obj | None:
    updated = copy.deepcopy(obj)
    refs = [r for r in updated["metadata"].get("ownerReferences") or []
            if r.get("uid") not in (drop, (add or {}).get("uid"))]
    if add is not None:
        refs.append(add)
    if refs:
        updated["metadata"]["ownerReferences"] = refs
    else:
        updated["metadata"].pop("ownerReferences", None)
    try:
        return store.update(plural, obj["metadata"].get("namespace"), updated, user=user)
    except ApiError as exc:
        if exc.status in (404, 409):
            return None  # gone or changed: the next sync sees the new state
        raise


# -- pods (pkg/api/v1/pod, controller.FilterActivePods) -------------------------------------------
def phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_terminal(pod: Obj) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    return not is_terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def _ready_condition(pod: Obj) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def is_ready(pod: Obj) -> bool:
    cond = _ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def available_in(pod: Obj, min_ready_seconds: int, now: float) -> float | None:
    """0 when the pod is available (Ready for at least minReadySeconds), the seconds left
    until it will be, or None when it is not Ready."""
    if not is_ready(pod):
        return None
    if not min_ready_seconds:
        return 0.0
    since = parse_time((_ready_condition(pod) or {}).get("lastTransitionTime")) or now
    return max(0.0, since + min_ready_seconds - now)


def crashloop_delay(owner: Obj, pods: list[Obj]) -> float:
    """Seconds to wait before replacing pods. The lab kubelet does not restart containers: a
    ``restartPolicy: Always`` pod whose process exits ends Succeeded or Failed where a real
    node would restart it with CrashLoopBackOff (10 s, doubling to 5 min). Replacements of
    such pods wait as long, so a workload whose process exits does not spin."""
    uid = owner["metadata"]["uid"]
    crashed = [p for p in pods if is_terminal(p) and (controller_of(p) or {}).get("uid") == uid
               and (p.get("spec") or {}).get("restartPolicy", "Always") == "Always"]
    if not crashed:
        return 0.0
    finished = [parse_time(s.get("state", {}).get("terminated", {}).get("finishedAt"))
                or parse_time(p["metadata"].get("creationTimestamp")) or 0.0
                for p in crashed for s in (p.get("status") or {}).get("containerStatuses")
                or [{}]]
    delay = min(10.0 * 2 ** (len(crashed) - 1), 300.0)
    return max(0.0, max(finished) + delay - dt.datetime.now(dt.timezone.utc).timestamp())


def pod_from_template(template: Obj, owner: Obj, ref: Obj) -> Obj:
    """controller.GetPodFromTemplate: labels, annotations, finalizers and spec of the template,
    ``generateName: <owner>-`` and the controller reference."""
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {"generateName": owner["metadata"]["name"] + "-",
                     "namespace": owner["metadata"]["namespace"],
                     "ownerReferences": [ref]}
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = copy.deepcopy(tmeta[key])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def deletion_rank(pod: Obj, now: float) -> tuple[Any, ...]:
    """controller.ActivePods ordering: pods earlier in this order are deleted first
    (unscheduled, pending, not ready, ready for less time, more restarts, newer)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(phase(pod), 0)
    ready_since = parse_time((_ready_condition(pod) or {}).get("lastTransitionTime")) or now
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = parse_time(pod["metadata"].get("creationTimestamp")) or now
    return (bool(spec.get("nodeName")), phase_rank, is_ready(pod),
            -(ready_since if is_ready(pod) else 0), -restarts, -created)


# -- hashing (controller.ComputeHash, rand.SafeEncodeString) --------------------------------------
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: Obj, collision_count: int | None = None) -> str:
    """A pod-template hash in Kubernetes' shape: FNV-32a, printed in decimal, each digit
    mapped to the consonant/digit alphabet. Kubernetes hashes Go's dump of the struct; the
    lab hashes canonical JSON, so the values differ but behave alike (a new template, a new
    hash; the collision count changes it)."""
    h = _fnv32a(json.dumps(semantic(template), sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        h = _fnv32a(int(collision_count).to_bytes(4, "little", signed=False), h)
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in str(h))


def semantic(value: Any) -> Any:
    """A value as Kubernetes compares it after decoding (apiequality.Semantic.DeepEqual): a
    null field is an absent one, and an empty list or map equals none (clients such as
    ``kubectl rollout undo`` send ``creationTimestamp: null`` in pod templates)."""
    if isinstance(value, dict):
        out = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def template_without_hash(template: Obj, label: str = "pod-template-hash") -> Obj:
    """The template to compare (EqualIgnoreHash): semantic, without the hash label."""
    out = semantic(template or {})
    labels = (out.get("metadata") or {}).get("labels")
    if labels and label in labels:
        del labels[label]
    return semantic(out)


# -- intstr (k8s.io/apimachinery/pkg/util/intstr) ------------------------------------------------
def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        percent = int(text[:-1])
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text)


# -- conditions ------------------------------------------------------------------------------------
def set_condition(conditions: list[Obj], new: Obj, timestamps: tuple[str, ...]) -> list[Obj]:
    """SetDeploymentCondition & co.: same status and reason keeps the old condition; same
    status keeps its lastTransitionTime; the condition moves to the end."""
    current = next((c for c in conditions if c.get("type") == new["type"]), None)
    if current is not None and current.get("status") == new["status"] and \
            current.get("reason") == new.get("reason"):
        return conditions
    if current is not None and current.get("status") == new["status"] \
            and "lastTransitionTime" in timestamps:
        new = {**new, "lastTransitionTime": current.get("lastTransitionTime")}
    return [c for c in conditions if c.get("type") != new["type"]] + [new]


def drop_condition(conditions: list[Obj], kind: str) -> list[Obj]:
    return [c for c in conditions if c.get("type") != kind]


def find_condition(status: Obj, kind: str) -> Obj | None:
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def omit_zero(status: Obj, keep: tuple[str, ...] = ()) -> Obj:
    """Go's omitempty on a status struct: zero counts and empty lists disappear."""
    return {k: v for k, v in status.items() if k in keep or v not in (0, None, [], "", {})}


def sort_by_creation(items: list[Obj]) -> list[Obj]:
    return sorted(items, key=lambda o: (o["metadata"].get("creationTimestamp") or "",
                                        o["metadata"]["name"]))
