"""CustomResourceDefinitions (apiextensions.k8s.io/v1) and the custom resources they add.

A CRD is validated (its name is ``plural.group``, one storage version, structural schemas) and
stored; then, as the API server's naming and establishing controllers do, its names are
accepted, its status says ``NamesAccepted`` and ``Established``, and every served version is
served under ``/apis/GROUP/VERSION`` (discovery, OpenAPI v3, REST) until the CRD is deleted,
which deletes its objects first (the ``customresourcecleanup`` finalizer).
Custom objects are validated against their version's schema (``crd_schema``), unknown fields
are pruned (``fieldValidation``), ``metadata.generation`` counts spec changes, and the
``status`` subresource splits status from the rest when the version asks for it.
Reference: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/
custom-resource-definitions/ and k8s.io/apiextensions-apiserver (pkg/apis/apiextensions/
validation, pkg/controller/establish, pkg/controller/finalizer).

Lab limits: conversion is ``None`` (objects are served as stored, whatever the version asked),
the ``scale`` subresource and CEL rules are not served, and the store keys objects by plural,
so a CRD whose plural another group already serves is not established (its conditions say so).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .crd_schema import Schema, structural_causes, value_causes
from .errors import ApiError, Cause
from .resources import BY_PLURAL, ResourceType

if TYPE_CHECKING:
    from .cluster import KubeCluster
    from .store import KubeStore

CRDS = "customresourcedefinitions"
CONTROLLER_USER = "system:apiserver"
META_REF = {"allOf": [{"$ref": "#/components/schemas/"
                                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}],
            "default": {}}


@dataclass(frozen=True)
class CustomResourceType(ResourceType):
    """A served version of a CRD: its published schema and its printer columns."""

    schema: Schema = field(default_factory=dict, compare=False, hash=False)
    columns: tuple[tuple[str, str, str, int], ...] = ()  # (name, type, jsonPath, priority)
    definition: str = ""

    @property
    def schema_name(self) -> str:
        """The OpenAPI name: the group reversed, version, kind (io.k8s.example.v1.Foo)."""
        return ".".join([*reversed(self.group.split(".")), self.version, self.kind])

    def causes(self, obj: dict[str, Any]) -> list[Cause]:
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        props = {k: v for k, v in (self.schema.get("properties") or {}).items()
                 if k not in ("apiVersion", "kind", "metadata")}
        return value_causes({**self.schema, "properties": props}, body, "")

    def prepare(self, obj: dict[str, Any], creating: bool) -> None:
        """A create through the main resource leaves status to the status subresource."""
        if creating and "status" in self.subresources:
            obj.pop("status", None)


def is_custom(rt: ResourceType) -> bool:
    return isinstance(rt, CustomResourceType)


# -- the CRD object: defaults and validation ------------------------------------------------------

def defaults(obj: dict[str, Any], creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("conversion", {"strategy": "None"})
    names = spec.get("names") or {}
    if names.get("kind") and not names.get("listKind"):
        names["listKind"] = names["kind"] + "List"
    if names.get("plural") and not names.get("singular") and names.get("kind"):
        names["singular"] = names["kind"].lower()
    if creating:  # the create strategy records the storage version at once
        storage = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
        obj["status"] = {"acceptedNames": {"kind": "", "plural": ""}, "conditions": [],
                         "storedVersions": storage[:1]}


def crd_causes(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group") or "", names.get("plural") or ""
    causes: list[Cause] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    if name != f"{plural}.{group}":
        causes.append(Cause("FieldValueInvalid", "metadata.name",
                            'must be spec.names.plural+"."+spec.group', name))
    if not group:
        causes.append(Cause("FieldValueRequired", "spec.group", ""))
    elif "." not in group:
        causes.append(Cause("FieldValueInvalid", "spec.group",
                            "should be a domain with at least one dot", group))
    for key in ("plural", "kind"):
        if not names.get(key):
            causes.append(Cause("FieldValueRequired", f"spec.names.{key}", ""))
    if spec.get("scope") not in ("Cluster", "Namespaced"):
        causes.append(Cause("FieldValueNotSupported", "spec.scope",
                            'supported values: "Cluster", "Namespaced"', spec.get("scope")))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(Cause("FieldValueInvalid", "spec.versions", "must have exactly one "
                            "version marked as storage version", []))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(Cause("FieldValueInvalid", "spec.versions", "must have exactly one "
                            "version marked as storage version", "[...]"))
    for i, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(Cause("FieldValueRequired", f"spec.versions[{i}].schema."
                                                      "openAPIV3Schema", "schemas are required"))
        else:
            causes += structural_causes(schema, f"spec.versions[{i}].schema.openAPIV3Schema")
    return causes


# -- the types a CRD serves -----------------------------------------------------------------------

def _published(schema: Schema, group: str, version: str, kind: str) -> Schema:
    """The version's schema as OpenAPI publishes it: metadata is ObjectMeta."""
    out = copy.deepcopy(schema)
    props = out.setdefault("properties", {})
    props["apiVersion"] = props.get("apiVersion") or {"type": "string"}
    props["kind"] = props.get("kind") or {"type": "string"}
    props["metadata"] = copy.deepcopy(META_REF)
    out["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind,
                                               "version": version}]
    return out


def _columns(version: dict[str, Any]) -> tuple[tuple[str, str, str, int], ...]:
    cols = [(c.get("name", ""), c.get("type", "string"), c.get("jsonPath", ""),
             int(c.get("priority") or 0)) for c in version.get("additionalPrinterColumns") or []]
    if not any(c[2] == ".metadata.creationTimestamp" for c in cols):
        cols.append(("Age", "date", ".metadata.creationTimestamp", 0))
    return tuple(cols)


def types_of(crd: dict[str, Any]) -> tuple[list[CustomResourceType], CustomResourceType]:
    spec = crd["spec"]
    names = spec["names"]
    served, storage = [], None
    for version in spec["versions"]:
        subresources: dict[str, tuple[str, ...]] = {"status": ("get", "patch", "update")} \
            if "status" in (version.get("subresources") or {}) else {}
        rt = CustomResourceType(
            names["plural"], names.get("singular") or names["kind"].lower(), names["kind"],
            spec["group"], version["name"], spec["scope"] == "Namespaced",
            tuple(names.get("shortNames") or ()), tuple(names.get("categories") or ()),
            subresources=subresources, has_generation=True,
            schema=_published(version["schema"]["openAPIV3Schema"], spec["group"],
                              version["name"], names["kind"]),
            columns=_columns(version), definition=crd["metadata"]["name"])
        if version.get("storage"):
            storage = rt
        if version.get("served", True):
            served.append(rt)
    assert storage is not None  # validated: exactly one storage version
    return served, storage


# -- the naming/establishing controller and the cleanup finalizer ---------------------------------

def _conflict(store: "KubeStore", crd: dict[str, Any]) -> str | None:
    spec, name = crd["spec"], crd["metadata"]["name"]
    plural = spec["names"]["plural"]
    if plural in BY_PLURAL:
        return (f'"{plural}" is already served by group "{BY_PLURAL[plural].group}" (the lab '
                "keeps one resource per plural name)")
    for rt in store.types.custom():
        if isinstance(rt, CustomResourceType) and rt.definition != name and (rt.plural == plural or (
                rt.group == spec["group"] and rt.kind == spec["names"]["kind"])):
            return f'"{plural}" is already in use'
    return None


def _status(crd: dict[str, Any], problem: str | None, now: str) -> dict[str, Any]:
    names = dict(crd["spec"]["names"])
    storage = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    if problem is None and storage not in stored:
        stored.append(storage)
    if problem is None:
        conditions = [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now}]
        return {"acceptedNames": names, "conditions": conditions, "storedVersions": stored}
    conditions = [
        {"type": "NamesAccepted", "status": "False", "reason": "PluralConflict",
         "message": problem, "lastTransitionTime": now},
        {"type": "Established", "status": "False", "reason": "NotAccepted",
         "message": "not all names are accepted", "lastTransitionTime": now}]
    return {"acceptedNames": {"kind": "", "plural": ""}, "conditions": conditions,
            "storedVersions": stored}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(s: dict[str, Any]) -> Any:
        return {**s, "conditions": [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                                    for c in s.get("conditions") or []]}
    return strip(a) == strip(b)


class Establishing:
    """Serves what each CRD defines, as soon as it is stored (the real controllers take a
    moment; clients that apply a CRD and its objects together retry discovery meanwhile)."""

    def __init__(self, store: "KubeStore") -> None:
        self.store = store

    def on_event(self, event: str, plural: str, obj: dict[str, Any]) -> None:
        if plural != CRDS:
            return
        name = obj["metadata"]["name"]
        if event == "DELETED":
            self._clean_up(name)
            return
        from .store import now_rfc3339

        problem = _conflict(self.store, obj)
        if problem is None:
            served, storage = types_of(obj)
            self.store.types.register(name, served, storage)
        else:
            self.store.types.unregister(name)
        status = _status(obj, problem, now_rfc3339())
        if _same(status, obj.get("status") or {}):
            return
        try:
            self.store.update(CRDS, None, {**obj, "status": status}, subresource="status",
                              user=CONTROLLER_USER)
        except ApiError as err:
            if err.status not in (404, 409):
                raise

    def _clean_up(self, name: str) -> None:
        """Delete the CRD's objects, then stop serving its types."""
        served = [rt for rt in self.store.types.custom()
                  if isinstance(rt, CustomResourceType) and rt.definition == name]
        for plural in {rt.plural for rt in served}:
            items, _ = self.store.list(plural)
            for item in items:
                meta = item["metadata"]
                try:
                    self.store.delete(plural, meta.get("namespace"), meta["name"],
                                      user=CONTROLLER_USER)
                except ApiError as err:
                    if err.status != 404:
                        raise
        self.store.types.unregister(name)


def install_crds(cluster: "KubeCluster") -> Establishing:
    controller = Establishing(cluster.store)
    cluster.store.subscribe(controller.on_event)
    return controller
