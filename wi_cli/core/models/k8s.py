"""Kubernetes objects as wi reads them: small frozen dataclasses built from the API's JSON.

Field names are the Kubernetes field names in snake_case (the names the official client uses),
so ``pod.spec.service_account_name`` reads as it does everywhere else; only the fields wi looks
at are kept. :func:`from_json` builds any of them from a JSON object (the API server's wire
format, or a manifest written in a test)."""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional, TypeVar, Union

T = TypeVar("T")

# -- building from JSON ---------------------------------------------------------------------------

_FIRST_CAP = re.compile(r"_([a-z])")


def _camel(name: str) -> str:
    return _FIRST_CAP.sub(lambda m: m.group(1).upper(), name)


def _identity(value: Any) -> Any:
    return value


def _converter(tp: Any) -> Any:
    """A function turning a JSON value into ``tp`` (compiled once per type)."""
    origin = typing.get_origin(tp)
    if origin is Union:  # Optional[X]
        inner = _converter([a for a in typing.get_args(tp) if a is not type(None)][0])
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        item = _converter(typing.get_args(tp)[0])
        return lambda v: tuple(item(x) for x in v or ())
    if origin is dict:
        return lambda v: dict(v or {})
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        nested: type = tp
        return lambda v: from_json(nested, v or {})
    return _identity


@lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[tuple[str, str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _camel(f.name), _converter(hints[f.name]))
                 for f in dataclasses.fields(cls))


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """``cls`` from a Kubernetes JSON object: camelCase keys to snake_case fields, nested
    objects and lists converted by the field types, absent fields left at their defaults."""
    if not isinstance(data, dict):
        data = {}
    known: type = cls  # a class is hashable, whatever T is
    return cls(**{name: convert(data[key]) for name, key, convert in _fields(known)
                  if key in data})


# -- metadata -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OwnerReference:
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: Optional[bool] = None


@dataclass(frozen=True)
class ObjectMeta:
    name: str = ""
    namespace: Optional[str] = None
    uid: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owner_references: tuple[OwnerReference, ...] = ()
    creation_timestamp: Optional[str] = None
    deletion_timestamp: Optional[str] = None
    generation: Optional[int] = None

    @property
    def controller(self) -> OwnerReference | None:
        return next((r for r in self.owner_references if r.controller), None)
