"""Pods and their containers as wi reads them (Kubernetes field names in snake_case; build them
with :func:`wi_cli.core.models.k8s.from_json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .k8s import ObjectMeta

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
