"""What several doctor runs share: the Azure reads and the public documents, each fetched once
for a whole fleet run however many clusters ask (an identity's credentials, its role assignments,
the AKS cluster list, an issuer's documents). Thread-safe: runs of several contexts go on at once,
and a second asker of the same thing waits for the first fetch instead of repeating it. An error
is kept like a value, so every run that needed it reports the same one."""

from __future__ import annotations

import builtins
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, TypeVar

from ...core.models import Cluster, FederatedCredential, Identity, ResourceId, RoleAssignment
from ...core.ports import AzureReads, Clusters, Identities, Rbac, Web

T = TypeVar("T")


@dataclass
class _Entry:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class Memo:
    """Single-flight memoization: ``get(key, fetch)`` runs ``fetch`` once per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}
        self.fetches = 0  # how many fetches ran (the rest were answered from memory)

    def get(self, key: Hashable, fetch: Callable[[], T]) -> T:
        with self._lock:
            entry = self._entries.get(key)
            owner = entry is None
            if entry is None:
                entry = self._entries[key] = _Entry()
                self.fetches += 1
        if owner:
            try:
                entry.value = fetch()
            except BaseException as exc:  # kept, and raised to every asker
                entry.error = exc
            finally:
                entry.done.set()
        else:
            entry.done.wait()
        if entry.error is not None:
            raise entry.error
        return entry.value


class SharedIdentities:
    def __init__(self, inner: Identities, memo: Memo) -> None:
        self._inner, self._memo = inner, memo

    def list(self, subscription: str) -> list[Identity]:
        return self._memo.get(("identities", subscription.lower()),
                              lambda: self._inner.list(subscription))

    def get(self, rid: ResourceId) -> Identity | None:
        return self._memo.get(("identity", rid.key), lambda: self._inner.get(rid))

    def credentials(self, identity: Identity) -> builtins.list[FederatedCredential]:
        return self._memo.get(("credentials", identity.id.key),
                              lambda: self._inner.credentials(identity))

    def __getattr__(self, name: str) -> Any:  # writes and the rest: the adapter itself
        return getattr(self._inner, name)


class SharedRbac:
    def __init__(self, inner: Rbac, memo: Memo) -> None:
        self._inner, self._memo = inner, memo

    def assignments_of(self, principal_id: str, subscription: str) -> list[RoleAssignment]:
        return self._memo.get(("assignments", principal_id.lower(), subscription.lower()),
                              lambda: self._inner.assignments_of(principal_id, subscription))

    def all_assignments(self, subscription: str) -> list[RoleAssignment]:
        return self._memo.get(("all-assignments", subscription.lower()),
                              lambda: self._inner.all_assignments(subscription))

    def role_name(self, guid: str, subscription: str) -> str:
        return self._memo.get(("role-name", guid.lower(), subscription.lower()),
                              lambda: self._inner.role_name(guid, subscription))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class SharedClusters:
    def __init__(self, inner: Clusters, memo: Memo, subscription: str) -> None:
        self._inner, self._memo, self._sub = inner, memo, subscription.lower()

    def list(self) -> list[Cluster]:
        return self._memo.get(("clusters", self._sub), self._inner.list)

    def get(self, resource_group: str, name: str) -> Cluster | None:
        return self._memo.get(("cluster", self._sub, resource_group.lower(), name.lower()),
                              lambda: self._inner.get(resource_group, name))


class SharedAzure:
    """An :class:`AzureReads` whose reads are shared by every run that holds it."""

    def __init__(self, inner: AzureReads, memo: Memo) -> None:
        self._inner, self.memo = inner, memo
        self.identities = SharedIdentities(inner.identities, memo)
        self.rbac = SharedRbac(inner.rbac, memo)
        self.clusters = SharedClusters(inner.clusters, memo, inner.subscription)

    @property
    def subscription(self) -> str:
        return self._inner.subscription

    def sign_in(self) -> None:
        self.memo.get(("sign-in",), self._inner.sign_in)


class SharedWeb:
    def __init__(self, inner: Web, memo: Memo) -> None:
        self._inner, self.memo = inner, memo

    def get_json(self, url: str) -> Any:
        return self.memo.get(("web", url), lambda: self._inner.get_json(url))
