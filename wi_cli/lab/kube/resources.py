"""The resource types the lab API server serves, as discovery describes them."""

from __future__ import annotations

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
                "admissionregistration.k8s.io", "discovery.k8s.io"]
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
