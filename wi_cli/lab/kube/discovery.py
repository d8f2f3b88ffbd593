"""Discovery documents: /version, /api, /apis, /api/v1, /apis/{group}/{version}.

Only the legacy (unaggregated) forms are served, with ``Content-Type: application/json``; a
client asking for aggregated discovery (``as=APIGroupDiscoveryList``) falls back to them, as it
does against a server without aggregated discovery.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .resources import GROUPS, ResourceType, resources_in

_SUBRESOURCE_KINDS: dict[str, tuple[str, str, str]] = {  # sub -> (group, version, kind); "" = same
    "log": ("", "", "Pod"),
    "binding": ("", "", "Binding"),
    "eviction": ("policy", "v1", "Eviction"),
    "exec": ("", "", "PodExecOptions"),
    "ephemeralcontainers": ("", "", "Pod"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
    "scale": ("autoscaling", "v1", "Scale"),
    "finalize": ("", "", "Namespace"),
}


def version_info(git_version: str) -> dict[str, Any]:
    major, minor = git_version.lstrip("v").split(".")[:2]
    return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
            "minCompatibilityMajor": major, "minCompatibilityMinor": str(int(minor) - 1),
            "gitVersion": git_version, "gitCommit": "0" * 40, "gitTreeState": "clean",
            "buildDate": "2025-07-01T00:00:00Z", "goVersion": "go1.24.4", "compiler": "gc",
            "platform": "linux/amd64"}


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "10.224.0.4:443"}]}


def api_group(group: str, served: list[str] | None = None) -> dict[str, Any]:
    """``served``: the versions of a group CRDs add, preferred first."""
    versions = [{"groupVersion": f"{group}/{v}", "version": v}
                for v in (served if served is not None else GROUPS[group])]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list(custom: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The built-in groups, then the groups CRDs add (``custom``: group -> versions)."""
    groups = []
    for group, versions in {**GROUPS, **(custom or {})}.items():
        if group:
            body = api_group(group, versions)
            body.pop("kind")
            body.pop("apiVersion")
            groups.append(body)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _storage_hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _resource_entry(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular,
                             "namespaced": rt.namespaced, "kind": rt.kind,
                             "verbs": list(rt.verbs)}
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    entry["storageVersionHash"] = _storage_hash(rt)
    return entry


def _subresource_entry(rt: ResourceType, sub: str, verbs: tuple[str, ...]) -> dict[str, Any]:
    group, version, kind = _SUBRESOURCE_KINDS.get(sub, ("", "", rt.kind))
    if sub == "proxy":
        kind = "NodeProxyOptions" if rt.plural == "nodes" else "ServiceProxyOptions"
    entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "",
                             "namespaced": rt.namespaced}
    if group:
        entry["group"], entry["version"] = group, version
    entry["kind"] = kind
    entry["verbs"] = list(verbs)
    return entry


def resource_list(group: str, version: str,
                  served: list[ResourceType] | None = None) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    types = served if served is not None else resources_in(group, version)
    for rt in sorted(types, key=lambda r: r.plural):
        entries.append(_resource_entry(rt))
        for sub, verbs in sorted(rt.subresources.items()):
            entries.append(_subresource_entry(rt, sub, verbs))
    gv = f"{group}/{version}" if group else version
    body: dict[str, Any] = {"kind": "APIResourceList", "groupVersion": gv, "resources": entries}
    if group:
        body["apiVersion"] = "v1"
    return body
