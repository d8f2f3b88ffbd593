"""The resource types the lab API server serves, as discovery describes them."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

STANDARD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                  "watch"]


@dataclass(frozen=True)
class ResourceType:
    plural: str
    singular: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # subresource name -> verbs (the API server routes "status"; others are registered)
    subresources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    verbs: tuple[str, ...] = tuple(STANDARD_VERBS)
    has_generation: bool = False
    name_rule: str = "subdomain"  # "subdomain" | "label" | "label1035" | "path"
    returns_deleted_object: bool = False  # DELETE answers the object, else a Success Status
    virtual: bool = False  # create-only review objects, answered and never stored

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def qualified(self) -> str:
        """The name used in error messages: ``serviceaccounts`` or ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """The kind used in 422 messages: ``ServiceAccount`` or ``Deployment.apps``."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def base_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"


_STATUS = {"status": ("get", "patch", "update")}

RESOURCES: list[ResourceType] = [
    ResourceType("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",),
                 subresources={**_STATUS, "finalize": ("update",)},
                 verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
                 name_rule="label", returns_deleted_object=True),
    ResourceType("nodes", "node", "Node", "", "v1", False, ("no",),
                 subresources={**_STATUS, "proxy": ("create", "delete", "get", "patch", "update")}),
    ResourceType("serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", True, ("sa",),
                 subresources={"token": ("create",)}, returns_deleted_object=True),
    ResourceType("pods", "pod", "Pod", "", "v1", True, ("po",), ("all",),
                 subresources={**_STATUS, "log": ("get",), "binding": ("create",),
                               "eviction": ("create",), "exec": ("create", "get"),
                               "ephemeralcontainers": ("get", "patch", "update")},
                 returns_deleted_object=True),
    ResourceType("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
    ResourceType("secrets", "secret", "Secret", "", "v1", True),
    ResourceType("services", "service", "Service", "", "v1", True, ("svc",), ("all",),
                 subresources={**_STATUS, "proxy": ("create", "delete", "get", "patch",
                                                     "update")},
                 verbs=("create", "delete", "deletecollection", "get", "list", "patch",
                        "update", "watch"),
                 name_rule="label1035", returns_deleted_object=True),
    ResourceType("endpoints", "endpoints", "Endpoints", "", "v1", True, ("ep",)),
    ResourceType("events", "event", "Event", "", "v1", True, ("ev",), name_rule="path"),
    ResourceType("endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io", "v1",
                 True),
    ResourceType("deployments", "deployment", "Deployment", "apps", "v1", True, ("deploy",),
                 ("all",), subresources={**_STATUS, "scale": ("get", "patch", "update")},
                 has_generation=True),
    ResourceType("replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, ("rs",),
                 ("all",), subresources={**_STATUS, "scale": ("get", "patch", "update")},
                 has_generation=True),
    ResourceType("statefulsets", "statefulset", "StatefulSet", "apps", "v1", True, ("sts",),
                 ("all",), subresources={**_STATUS, "scale": ("get", "patch", "update")},
                 has_generation=True),
    ResourceType("daemonsets", "daemonset", "DaemonSet", "apps", "v1", True, ("ds",),
                 ("all",), subresources=dict(_STATUS), has_generation=True),
    ResourceType("controllerrevisions", "controllerrevision", "ControllerRevision", "apps",
                 "v1", True),
    ResourceType("jobs", "job", "Job", "batch", "v1", True, (), ("all",),
                 subresources=dict(_STATUS), has_generation=True),
    ResourceType("cronjobs", "cronjob", "CronJob", "batch", "v1", True, ("cj",), ("all",),
                 subresources=dict(_STATUS), has_generation=True),
    # RBAC objects are stored and served; the lab authorizes by token (TokenIdentity.allow), not
    # from these objects
    ResourceType("roles", "role", "Role", "rbac.authorization.k8s.io", "v1", True,
                 name_rule="path"),
    ResourceType("rolebindings", "rolebinding", "RoleBinding", "rbac.authorization.k8s.io",
                 "v1", True, name_rule="path"),
    ResourceType("clusterroles", "clusterrole", "ClusterRole", "rbac.authorization.k8s.io",
                 "v1", False, name_rule="path"),
    ResourceType("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding",
                 "rbac.authorization.k8s.io", "v1", False, name_rule="path"),
    ResourceType("customresourcedefinitions", "customresourcedefinition",
                 "CustomResourceDefinition", "apiextensions.k8s.io", "v1", False,
                 ("crd", "crds"), ("api-extensions",), subresources=dict(_STATUS),
                 has_generation=True),
    ResourceType("mutatingwebhookconfigurations", "mutatingwebhookconfiguration",
                 "MutatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", False,
                 categories=("api-extensions",), has_generation=True),
    ResourceType("selfsubjectaccessreviews", "", "SelfSubjectAccessReview",
                 "authorization.k8s.io", "v1", False, verbs=("create",), virtual=True),
    ResourceType("selfsubjectreviews", "", "SelfSubjectReview", "authentication.k8s.io", "v1",
                 False, verbs=("create",), virtual=True),
]

BY_PLURAL: dict[str, ResourceType] = {r.plural: r for r in RESOURCES}

# group -> versions served, in the order the real /apis lists them (core "" has only v1)
_GROUP_ORDER = ["", "apps", "authentication.k8s.io", "authorization.k8s.io", "batch",
                "rbac.authorization.k8s.io", "admissionregistration.k8s.io",
                "apiextensions.k8s.io", "discovery.k8s.io"]
GROUPS: dict[str, list[str]] = {}
for _r in sorted(RESOURCES, key=lambda r: _GROUP_ORDER.index(r.group)):
    GROUPS.setdefault(_r.group, [])
    if _r.version not in GROUPS[_r.group]:
        GROUPS[_r.group].append(_r.version)


def resource(plural: str) -> ResourceType:
    try:
        return BY_PLURAL[plural]
    except KeyError:
        raise KeyError(f"the lab API server does not serve {plural!r}") from None


def resources_in(group: str, version: str) -> list[ResourceType]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


def has_status_subresource(rt: ResourceType) -> bool:
    return "status" in rt.subresources


# -- the types one API server serves: built-in, plus those its CRDs add (crds.py) --------------

_VERSION = re.compile(r"v(\d+)(?:(alpha|beta)(\d+))?\Z")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version order (apimachinery version.CompareKubeAwareVersionStrings), as a
    sort key: GA before beta before alpha, higher numbers first, then other names A-Z."""
    m = _VERSION.match(version)
    if not m:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), "")


class TypeRegistry:
    """What one API server serves: the built-in types, plus the types its established
    CustomResourceDefinitions add (one per served version; objects are stored once, under the
    storage version's plural)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._custom: dict[str, list[ResourceType]] = {}  # CRD name -> served types
        self._storage: dict[str, ResourceType] = {}  # plural -> storage version's type

    def resource(self, plural: str) -> ResourceType:
        rt = BY_PLURAL.get(plural) or self._storage.get(plural)
        if rt is None:
            raise KeyError(f"the lab API server does not serve {plural!r}")
        return rt

    def register(self, definition: str, served: Sequence[ResourceType],
                 storage: ResourceType) -> None:
        with self._lock:
            self._custom[definition] = list(served)
            self._storage[storage.plural] = storage

    def unregister(self, definition: str) -> list[ResourceType]:
        with self._lock:
            gone = self._custom.pop(definition, [])
            for rt in gone:
                self._storage.pop(rt.plural, None)
            return gone

    def custom(self) -> list[ResourceType]:
        with self._lock:
            return [rt for types in self._custom.values() for rt in types]

    def owner_of(self, plural: str, group: str) -> str | None:
        """The CRD that serves ``plural`` in ``group``, if any."""
        with self._lock:
            return next((name for name, types in self._custom.items()
                         if any(rt.plural == plural and rt.group == group for rt in types)),
                        None)

    def served(self, group: str, version: str) -> list[ResourceType]:
        return resources_in(group, version) + [rt for rt in self.custom()
                                               if rt.group == group and rt.version == version]

    def custom_groups(self) -> dict[str, list[str]]:
        """CRD groups (after the built-in ones, by name) and their versions, preferred first."""
        groups: dict[str, set[str]] = {}
        for rt in self.custom():
            if rt.group not in GROUPS:
                groups.setdefault(rt.group, set()).add(rt.version)
        return {g: sorted(groups[g], key=version_priority) for g in sorted(groups)}

    def groups(self) -> dict[str, list[str]]:
        return {**GROUPS, **self.custom_groups()}
