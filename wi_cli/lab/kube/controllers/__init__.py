"""The lab's kube-controller-manager: the Deployment, ReplicaSet, StatefulSet, DaemonSet, Job
(and TTL-after-finished) controllers and the garbage collector, for one lab cluster.

Like the real one it works from change notifications plus a periodic resync, one work queue
of object keys, and per-key exponential backoff on errors (5 ms doubling, capped at the resync
period here). Notifications only enqueue keys, on the writer's thread; all reads and writes
happen on the manager's own thread, through the store's ordinary path, so admission (the
ServiceAccount plugin, the workload-identity webhook, the kubelet's scheduling) sees every pod
the controllers create, and no API request waits for a controller.

The workload-identity webhook's own Deployment and ReplicaSet are kept by its installation
(``webhook.WebhookInstallation``, whose pods are seeded Running); these controllers leave
them alone.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ApiError
from ..resources import RESOURCES
from ..webhook import DEPLOYMENT_NAME as WEBHOOK_DEPLOYMENT
from .common import Obj, controller_of, selector_matches
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .events import EventRecorder
from .gc import GarbageCollector
from .job import JobController
from .replicaset import ReplicaSetController
from .statefulset import StatefulSetController

if TYPE_CHECKING:
    from ..cluster import KubeCluster

Key = tuple[Any, ...]
OWNER_PLURALS = {("apps", "ReplicaSet"): "replicasets", ("apps", "Deployment"): "deployments",
                 ("apps", "StatefulSet"): "statefulsets", ("apps", "DaemonSet"): "daemonsets",
                 ("batch", "Job"): "jobs"}
# which controllers may adopt an orphan of this kind
ADOPTERS = {"pods": ("replicasets", "statefulsets", "daemonsets", "jobs"),
            "replicasets": ("deployments",)}
BACKOFF_BASE = 0.005


class ControllerManager:
    resync_seconds = 30.0

    def __init__(self, cluster: "KubeCluster") -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.events = EventRecorder(self.store)
        self.gc = GarbageCollector(self)
        self.syncers: dict[str, Callable[[str, str], float | None]] = {
            "deployments": DeploymentController(self).sync,
            "replicasets": ReplicaSetController(self).sync,
            "statefulsets": StatefulSetController(self).sync,
            "daemonsets": DaemonSetController(self).sync,
            "jobs": JobController(self).sync,
        }
        self._cond = threading.Condition()
        self._ready: dict[Key, None] = {}  # insertion-ordered set
        self._delayed: list[tuple[float, int, Key]] = []
        self._order = itertools.count()
        self._failures: dict[Key, int] = {}
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.store.subscribe(self.on_event)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "ControllerManager":
        for rt in RESOURCES:  # objects stored before the manager subscribed
            if not rt.virtual:
                for obj in self.store.list(rt.plural)[0]:
                    if obj["metadata"].get("ownerReferences"):
                        self.gc.observe("ADDED", rt.plural, obj)
        self._resync()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"kube-controller-manager-{self.cluster.name}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    # -- the queue -------------------------------------------------------------------------------
    def enqueue(self, key: Key, delay: float = 0.0) -> None:
        with self._cond:
            if delay <= 0:
                self._ready[key] = None
            else:
                heapq.heappush(self._delayed, (time.monotonic() + delay, next(self._order), key))
            self._cond.notify()

    def _next(self, deadline: float) -> Key | None:
        """The next key to work on; None on stop or once ``deadline`` (the resync) passes."""
        with self._cond:
            while not self._stopped.is_set():
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    self._ready[heapq.heappop(self._delayed)[2]] = None
                if self._ready:
                    key = next(iter(self._ready))
                    del self._ready[key]
                    return key
                if now >= deadline:
                    return None
                wake = min(deadline, self._delayed[0][0]) if self._delayed else deadline
                self._cond.wait(max(wake - now, 0.001))
        return None

    def _run(self) -> None:
        next_resync = time.monotonic() + self.resync_seconds
        while not self._stopped.is_set():
            key = self._next(next_resync)
            if time.monotonic() >= next_resync:
                self._resync()
                next_resync = time.monotonic() + self.resync_seconds
            if key is None or self._stopped.is_set():
                continue
            try:
                again = self._process(key)
            except ApiError:
                again = self._backoff(key)  # conflicts, refusals: retry later
            except Exception:  # a controller bug must not stop the other controllers
                traceback.print_exc()
                again = self._backoff(key)
            else:
                self._failures.pop(key, None)
            if again is not None:
                self.enqueue(key, again)

    def _backoff(self, key: Key) -> float:
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        return min(BACKOFF_BASE * 2 ** (failures - 1), self.resync_seconds)

    def _resync(self) -> None:
        for plural in self.syncers:
            items, _ = self.store.list(plural)
            for obj in items:
                self.enqueue((plural, obj["metadata"].get("namespace"), obj["metadata"]["name"]))

    def _process(self, key: Key) -> float | None:
        kind = key[0]
        if kind == "gc":
            self.gc.check(key[1], key[2], key[3])
            return None
        if kind == "orphan":
            self._find_adopters(key[1], key[2], key[3])
            return None
        if kind == "all":
            for obj in self.store.list(key[1])[0]:
                self.enqueue((key[1], obj["metadata"]["namespace"], obj["metadata"]["name"]))
            return None
        return self.syncers[kind](key[1], key[2])

    # -- notifications (on the writer's thread: enqueue only) ------------------------------------
    def on_event(self, event: str, plural: str, obj: Obj) -> None:
        if self._stopped.is_set():
            return
        self.gc.observe(event, plural, obj)
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name", "")
        if plural in self.syncers:
            self.enqueue((plural, namespace, name))
        if plural in ADOPTERS:
            ref = controller_of(obj)
            if ref is not None:
                group = ref.get("apiVersion", "").rpartition("/")[0]
                owner = OWNER_PLURALS.get((group, ref.get("kind", "")))
                if owner is not None:
                    self.enqueue((owner, namespace, ref.get("name", "")))
            elif event != "DELETED":
                self.enqueue(("orphan", plural, namespace, name))
        elif plural == "nodes":
            self.enqueue(("all", "daemonsets"))

    def _find_adopters(self, plural: str, namespace: str, name: str) -> None:
        obj = self.store.try_get(plural, namespace, name)
        if obj is None or controller_of(obj) is not None:
            return
        for owner_plural in ADOPTERS[plural]:
            for owner in self.store.list(owner_plural, namespace)[0]:
                if selector_matches((owner.get("spec") or {}).get("selector"), obj):
                    self.enqueue((owner_plural, namespace, owner["metadata"]["name"]))

    # -- objects kept by someone else ------------------------------------------------------------
    def managed_elsewhere(self, plural: str, obj: Obj) -> bool:
        meta = obj["metadata"]
        for installation in getattr(self.cluster, "wi_webhooks", None) or []:
            if meta.get("namespace") != installation.namespace:
                continue
            if (plural == "deployments" and meta["name"] == WEBHOOK_DEPLOYMENT) or (
                    plural == "replicasets" and meta["name"] == installation.replicaset_name):
                return True
        return False


def install_controllers(cluster: "KubeCluster") -> ControllerManager:
    """Start the cluster's controllers; they stop with the lab."""
    manager = ControllerManager(cluster).start()
    on_stop = getattr(cluster.lab, "on_stop", None)
    if callable(on_stop):
        on_stop(manager.stop)
    return manager
