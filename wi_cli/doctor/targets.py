"""What each finding is about, built from the values the checks examine."""

from __future__ import annotations

from ..core.models import Identity, Pod, Target
from .facts.identities import Binding
from .facts.workloads import Workload


def of_binding(b: Binding) -> Target:
    return Target(namespace=b.namespace, service_account=b.name,
                  identity=b.identity.name if b.identity is not None else None)


def of_service_account(namespace: str, name: str) -> Target:
    return Target(namespace=namespace, service_account=name)


def of_pod(pod: Pod) -> Target:
    return Target(namespace=pod.metadata.namespace, service_account=pod.spec.service_account,
                  pod=pod.metadata.name)


def of_workload(w: Workload) -> Target:
    if w.is_deployment:
        return Target(namespace=w.namespace, service_account=w.spec.service_account,
                      workload=f"deployment/{w.name}")
    return Target(namespace=w.namespace, service_account=w.spec.service_account, pod=w.name)


def of_identity(identity: Identity) -> Target:
    return Target(identity=identity.name)


def of_namespace(namespace: str) -> Target:
    return Target(namespace=namespace)
