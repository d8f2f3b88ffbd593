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
    if dataclasses.is_dataclass(tp):
        return lambda v: from_json(tp, v or {})
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
    return cls(**{name: convert(data[key]) for name, key, convert in _fields(cls)
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


# -- pods -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KeySelector:
    name: Optional[str] = None
    key: Optional[str] = None


@dataclass(frozen=True)
class FieldSelector:
    field_path: Optional[str] = None


@dataclass(frozen=True)
class EnvVarSource:
    field_ref: Optional[FieldSelector] = None
    secret_key_ref: Optional[KeySelector] = None
    config_map_key_ref: Optional[KeySelector] = None


@dataclass(frozen=True)
class EnvVar:
    name: str = ""
    value: Optional[str] = None
    value_from: Optional[EnvVarSource] = None


@dataclass(frozen=True)
class LocalRef:
    name: Optional[str] = None
    optional: Optional[bool] = None


@dataclass(frozen=True)
class EnvFromSource:
    prefix: Optional[str] = None
    config_map_ref: Optional[LocalRef] = None
    secret_ref: Optional[LocalRef] = None


@dataclass(frozen=True)
class VolumeMount:
    name: str = ""
    mount_path: str = ""
    sub_path: Optional[str] = None
    read_only: Optional[bool] = None


@dataclass(frozen=True)
class SecurityContext:
    run_as_user: Optional[int] = None
    run_as_group: Optional[int] = None
    run_as_non_root: Optional[bool] = None
    fs_group: Optional[int] = None
    privileged: Optional[bool] = None


@dataclass(frozen=True)
class Container:
    name: str = ""
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()
    env_from: tuple[EnvFromSource, ...] = ()
    volume_mounts: tuple[VolumeMount, ...] = ()
    security_context: Optional[SecurityContext] = None
    restart_policy: Optional[str] = None  # "Always": a native sidecar (init containers only)

    def env_var(self, name: str) -> EnvVar | None:
        """The LAST entry with that name: Kubernetes keeps the last of duplicates."""
        found = [e for e in self.env if e.name == name]
        return found[-1] if found else None


@dataclass(frozen=True)
class ServiceAccountTokenProjection:
    audience: Optional[str] = None
    expiration_seconds: Optional[int] = None
    path: str = ""


@dataclass(frozen=True)
class VolumeProjection:
    service_account_token: Optional[ServiceAccountTokenProjection] = None


@dataclass(frozen=True)
class ProjectedVolumeSource:
    sources: tuple[VolumeProjection, ...] = ()
    default_mode: Optional[int] = None


@dataclass(frozen=True)
class Volume:
    name: str = ""
    projected: Optional[ProjectedVolumeSource] = None


@dataclass(frozen=True)
class Toleration:
    key: Optional[str] = None
    operator: Optional[str] = None
    value: Optional[str] = None
    effect: Optional[str] = None


@dataclass(frozen=True)
class PodOS:
    name: Optional[str] = None


@dataclass(frozen=True)
class PodSpec:
    service_account_name: Optional[str] = None
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    volumes: tuple[Volume, ...] = ()
    security_context: Optional[SecurityContext] = None
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    host_network: Optional[bool] = None
    os: Optional[PodOS] = None
    node_name: Optional[str] = None

    @property
    def service_account(self) -> str:
        return self.service_account_name or "default"


@dataclass(frozen=True)
class ContainerStateWaiting:
    reason: Optional[str] = None
    message: Optional[str] = None


@dataclass(frozen=True)
class ContainerStateTerminated:
    exit_code: Optional[int] = None
    reason: Optional[str] = None


@dataclass(frozen=True)
class ContainerState:
    waiting: Optional[ContainerStateWaiting] = None
    terminated: Optional[ContainerStateTerminated] = None


@dataclass(frozen=True)
class ContainerStatus:
    name: str = ""
    ready: Optional[bool] = None
    state: Optional[ContainerState] = None


@dataclass(frozen=True)
class PodStatus:
    phase: Optional[str] = None
    reason: Optional[str] = None
    message: Optional[str] = None
    container_statuses: tuple[ContainerStatus, ...] = ()


@dataclass(frozen=True)
class Pod:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PodSpec = field(default_factory=PodSpec)
    status: PodStatus = field(default_factory=PodStatus)


@dataclass(frozen=True)
class PodTemplateSpec:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PodSpec = field(default_factory=PodSpec)


# -- workloads and other objects -------------------------------------------------------------------

@dataclass(frozen=True)
class LabelSelectorRequirement:
    key: str = ""
    operator: str = ""
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: dict[str, str] = field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()


@dataclass(frozen=True)
class WorkloadSpec:
    """The spec of a Deployment, StatefulSet, DaemonSet or ReplicaSet (what wi reads of it)."""

    replicas: Optional[int] = None
    selector: Optional[LabelSelector] = None
    template: PodTemplateSpec = field(default_factory=PodTemplateSpec)


@dataclass(frozen=True)
class WorkloadStatus:
    replicas: Optional[int] = None
    ready_replicas: Optional[int] = None
    available_replicas: Optional[int] = None
    updated_replicas: Optional[int] = None


@dataclass(frozen=True)
class Deployment:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: WorkloadSpec = field(default_factory=WorkloadSpec)
    status: WorkloadStatus = field(default_factory=WorkloadStatus)


@dataclass(frozen=True)
class ServiceAccount:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)

    @property
    def annotations(self) -> dict[str, str]:
        return self.metadata.annotations

    @property
    def client_id(self) -> str:
        return (self.metadata.annotations.get("azure.workload.identity/client-id") or "").strip()


@dataclass(frozen=True)
class ServiceSpec:
    selector: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: ServiceSpec = field(default_factory=ServiceSpec)


@dataclass(frozen=True)
class Namespace:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)


@dataclass(frozen=True)
class ConfigMap:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    data: dict[str, str] = field(default_factory=dict)
    binary_data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Secret:
    """Only the keys: wi never reads a secret's values."""

    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServicePort:
    name: Optional[str] = None
    port: Optional[int] = None


@dataclass(frozen=True)
class EndpointAddress:
    ip: Optional[str] = None


@dataclass(frozen=True)
class EndpointSubset:
    addresses: tuple[EndpointAddress, ...] = ()
    not_ready_addresses: tuple[EndpointAddress, ...] = ()


@dataclass(frozen=True)
class Endpoints:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    subsets: tuple[EndpointSubset, ...] = ()


@dataclass(frozen=True)
class ServiceReference:
    namespace: str = ""
    name: str = ""
    path: Optional[str] = None
    port: Optional[int] = None


@dataclass(frozen=True)
class WebhookClientConfig:
    service: Optional[ServiceReference] = None
    url: Optional[str] = None


@dataclass(frozen=True)
class RuleWithOperations:
    operations: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    api_versions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()


@dataclass(frozen=True)
class MutatingWebhook:
    name: str = ""
    client_config: WebhookClientConfig = field(default_factory=WebhookClientConfig)
    failure_policy: Optional[str] = None
    reinvocation_policy: Optional[str] = None
    match_policy: Optional[str] = None
    side_effects: Optional[str] = None
    namespace_selector: Optional[LabelSelector] = None
    object_selector: Optional[LabelSelector] = None
    rules: tuple[RuleWithOperations, ...] = ()


@dataclass(frozen=True)
class MutatingWebhookConfiguration:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    webhooks: tuple[MutatingWebhook, ...] = ()


@dataclass(frozen=True)
class Event:
    type: Optional[str] = None  # Normal or Warning
    reason: Optional[str] = None
    message: Optional[str] = None


def secret_from_json(data: dict[str, Any]) -> Secret:
    """A Secret with its keys and none of its values."""
    return Secret(from_json(ObjectMeta, data.get("metadata") or {}),
                  tuple(sorted({**(data.get("data") or {}), **(data.get("stringData") or {})})))
