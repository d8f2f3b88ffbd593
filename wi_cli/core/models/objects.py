"""The other Kubernetes objects wi reads: workloads, service accounts, namespaces, config maps,
secrets (keys only), services, endpoints and mutating webhook configurations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .k8s import ObjectMeta, from_json
from .pods import LocalRef, PodTemplateSpec

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
    image_pull_secrets: tuple[LocalRef, ...] = ()

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
