"""Events the controllers record (client-go's EventRecorder): one Event per object, reason and
message, whose ``count`` and ``lastTimestamp`` grow when it repeats (the EventCorrelator)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from ..errors import ApiError
from ..resources import resource
from .common import SA_PREFIX, Obj, now_rfc3339

if TYPE_CHECKING:
    from ..store import KubeStore


class EventRecorder:
    def __init__(self, store: "KubeStore") -> None:
        self.store = store
        self._names: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()

    def record(self, obj: Obj, plural: str, type_: str, reason: str, message: str,
               component: str) -> None:
        meta = obj["metadata"]
        namespace, uid = meta.get("namespace") or "default", meta.get("uid", "")
        key = (uid, reason, message)
        now = now_rfc3339()
        with self._lock:
            name = self._names.get(key)
        try:
            if name is not None:
                existing = self.store.try_get("events", namespace, name)
                if existing is not None:
                    existing["count"] = int(existing.get("count") or 1) + 1
                    existing["lastTimestamp"] = now
                    self.store.update("events", namespace, existing, user=SA_PREFIX + component)
                    return
            name = f"{meta['name']}.{time.time_ns():x}"
            rt = resource(plural)
            self.store.create("events", namespace, {
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {"kind": rt.kind, "namespace": namespace,
                                   "name": meta["name"], "uid": uid,
                                   "apiVersion": rt.api_version,
                                   "resourceVersion": meta.get("resourceVersion", "")},
                "reason": reason, "message": message, "type": type_,
                "source": {"component": component}, "firstTimestamp": now,
                "lastTimestamp": now, "count": 1, "reportingComponent": component,
                "reportingInstance": "",
            }, user=SA_PREFIX + component)
        except ApiError:
            return  # events are best effort, as in Kubernetes
        with self._lock:
            self._names[key] = name
