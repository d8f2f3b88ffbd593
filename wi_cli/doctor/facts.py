"""Facts: everything the checks read, fetched once (concurrently) and shared.

A fact is a named provider ``(facts) -> value`` registered with ``@fact("name")``. ``facts[name]``
computes it on first use (providers may read other facts) and caches the value or the error;
``prefetch(names)`` warms many at once in threads. API calls therefore grow with namespaces and
identities, not with service accounts × identities.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..core.config import Settings
from ..core.errors import WiError

Provider = Callable[["Facts"], Any]
PROVIDERS: dict[str, Provider] = {}


def fact(name: str) -> Callable[[Provider], Provider]:
    def register(fn: Provider) -> Provider:
        PROVIDERS[name] = fn
        return fn
    return register


class FactError(Exception):
    """A fact could not be gathered; checks that need it are reported as skip/error."""

    def __init__(self, name: str, cause: BaseException) -> None:
        message = cause.message if isinstance(cause, WiError) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"could not read {name}: {message}")
        self.name = name
        self.cause = cause


@dataclass
class Scope:
    """What doctor looks at."""

    namespace: str = "default"
    service_account: str | None = None
    all_namespaces: bool = False
    cluster: str | None = None
    resource_group: str | None = None
    live: bool = True


@dataclass
class Context:
    """What the command built: settings, clients and the scope."""

    scope: Scope
    azure: Any | None  # AzureClients, or None when no subscription is configured
    kube: Any  # KubeClients
    cloud: Any  # Cloud
    state_cluster: tuple[str, str] | None = None  # (name, resource group) from `wi provision`
    extra: dict[str, Any] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)  # tenant, CA bundle, waits


class Facts:
    def __init__(self, ctx: Context, workers: int = 32) -> None:
        self.ctx = ctx
        self.workers = workers
        self._values: dict[str, Any] = {}
        self._errors: dict[str, FactError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def scope(self) -> Scope:
        return self.ctx.scope

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def __getitem__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        if name in self._errors:
            raise self._errors[name]
        if name not in PROVIDERS:
            raise KeyError(f"no fact named {name!r}")
        with self._lock(name):
            if name in self._values:
                return self._values[name]
            if name in self._errors:
                raise self._errors[name]
            try:
                value = PROVIDERS[name](self)
            except FactError as exc:  # a fact it depends on failed
                self._errors[name] = exc
                raise
            except Exception as exc:  # noqa: BLE001 - kept and reported per check
                self._errors[name] = FactError(name, exc)
                raise self._errors[name] from None
            self._values[name] = value
            return value

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except FactError:
            return default

    def error(self, name: str) -> FactError | None:
        return self._errors.get(name)

    def prefetch(self, names: Iterable[str]) -> None:
        wanted = [n for n in dict.fromkeys(names) if n in PROVIDERS]
        with ThreadPoolExecutor(max_workers=min(self.workers, max(len(wanted), 1))) as pool:
            for future in [pool.submit(self.get, n) for n in wanted]:
                future.result()

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Run ``fn`` over items concurrently (for per-identity or per-namespace API calls)."""
        items = list(items)
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(fn, items))
