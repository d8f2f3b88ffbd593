"""Facts: everything the checks read, fetched once (concurrently) and shared.

A fact is a function registered with ``@fact``; its name is the fact's name, its parameters are
the facts (or ``ctx``) it is computed from, and its return annotation is its type. Checks take
facts the same way, as typed parameters, so what a check needs is its signature and cannot drift
from what it reads. ``Facts[name]`` computes a fact on first use and caches the value or the
error; ``prefetch(names)`` warms many at once in threads. API calls therefore grow with
namespaces and identities, not with service accounts × identities.
"""

from __future__ import annotations

import inspect
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, TypeVar

from ...core.cloud import Cloud
from ...core.config import Settings
from ...core.errors import WiError
from ...core.ports import AzureReads, ClusterReads, Entra, Web

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Needs:
    """The facts a function takes: its parameter names; those with a default are optional (the
    default is passed when the fact could not be read)."""

    names: tuple[str, ...]
    defaults: dict[str, Any]

    @classmethod
    def of(cls, fn: Callable[..., Any], skip: tuple[str, ...] = ()) -> "Needs":
        params = [p for p in inspect.signature(fn).parameters.values() if p.name not in skip]
        return cls(tuple(p.name for p in params),
                   {p.name: p.default for p in params if p.default is not inspect.Parameter.empty})

    def values(self, facts: "Facts") -> dict[str, Any]:
        return {name: (facts.get(name, self.defaults[name]) if name in self.defaults
                       else facts[name]) for name in self.names}


@dataclass(frozen=True)
class Provider:
    fn: Callable[..., Any]
    needs: Needs


PROVIDERS: dict[str, Provider] = {}


def fact(fn: Callable[..., T]) -> Callable[..., T]:
    """Register ``fn`` as the fact of its own name, computed from the facts its parameters
    name."""
    if fn.__name__ in PROVIDERS:
        raise ValueError(f"fact {fn.__name__!r} registered twice")
    PROVIDERS[fn.__name__] = Provider(fn, Needs.of(fn))
    return fn


class FactError(Exception):
    """A fact could not be gathered; checks that need it are reported as error."""

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


class Parallel(Protocol):
    def __call__(self, fn: Callable[[Any], R], items: Iterable[Any]) -> list[R]: ...


@dataclass
class Context:
    """What the command built: the scope, the adapters doctor reads through, the settings."""

    scope: Scope
    kube: ClusterReads
    azure: AzureReads | None  # None when no subscription is configured
    entra: Entra
    web: Web
    cloud: Cloud
    settings: Settings = field(default_factory=Settings)
    state_cluster: tuple[str, str] | None = None  # (name, resource group) from `wi provision`
    kube_context: str | None = None  # the kubeconfig context, named in each finding's target
    workers: int = 32

    def map(self, fn: Callable[[Any], R], items: Iterable[Any]) -> list[R]:
        """Run ``fn`` over items concurrently (per-identity or per-namespace API calls)."""
        items = list(items)
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(fn, items))


class Facts:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._values: dict[str, Any] = {"ctx": ctx}
        self._errors: dict[str, FactError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

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
            provider = PROVIDERS[name]
            try:
                value = provider.fn(**provider.needs.values(self))
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
        self.ctx.map(self.get, wanted)


def load() -> None:
    """Import the fact modules (registering them)."""
    from . import cluster, identities, live, webhook, workloads  # noqa: F401
