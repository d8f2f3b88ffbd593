"""One pod's files on the lab's node: its volumes (ConfigMaps, Secrets, projected service
account tokens minted by the cluster's issuer and bound to the pod, downward API, emptyDir)
under ``<root>/<uid>/volumes``, its logs, and the rewriting of absolute mount paths to that
root in command, args and env (the kubelet runs containers as local processes)."""

from __future__ import annotations

import base64
import re
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .sa_tokens import DEFAULT_EXPIRATION_SECONDS

if TYPE_CHECKING:
    from .kubelet import Kubelet


class MountError(Exception):
    """A volume could not be set up (the kubelet's FailedMount)."""

# -- volumes and paths ------------------------------------------------------------------------------
def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def _items_or_all(data: dict[str, bytes], items: list[dict[str, Any]] | None,
                  kind: str) -> list[tuple[str, bytes, int | None]]:
    if not items:
        return [(key, value, None) for key, value in sorted(data.items())]
    out = []
    for item in items:
        if item["key"] not in data:
            raise MountError(f'configmap references non-existent config key: {item["key"]}'
                             if kind == "configmap" else
                             f'references non-existent secret key: {item["key"]}')
        out.append((item.get("path") or item["key"], data[item["key"]], item.get("mode")))
    return out


def field_value(pod: dict[str, Any], field_path: str) -> str:
    """A downward API ``fieldRef`` value."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP"),
    }
    if field_path in simple:
        return simple[field_path] or ""
    m = re.match(r"^metadata\.(labels|annotations)(?:\['(.+)'\])?$", field_path)
    if m:
        values = meta.get(m.group(1)) or {}
        if m.group(2):
            return values.get(m.group(2), "")
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    return ""


class PodSandbox:
    """One pod's files on the node: ``<root>/<uid>/volumes/<name>/...`` and its logs."""

    def __init__(self, kubelet: "Kubelet", pod: dict[str, Any]) -> None:
        self.kubelet = kubelet
        self.cluster = kubelet.cluster
        self.pod = pod
        self.dir = kubelet.root / pod["metadata"]["uid"]
        self.volumes_dir = self.dir / "volumes"
        self.logs_dir = self.dir / "logs"
        # projected tokens to refresh: (file, audience, expirationSeconds, mode)
        self.tokens: list[tuple[Path, str | None, int, int]] = []

    def setup(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for volume in (self.pod.get("spec") or {}).get("volumes") or []:
            target = self.volumes_dir / volume["name"]
            target.mkdir(parents=True, exist_ok=True)
            self._materialise(volume, target)

    def _materialise(self, volume: dict[str, Any], target: Path) -> None:
        if "configMap" in volume:
            self._config_source(volume["configMap"], target, volume["configMap"].get(
                "defaultMode", 420), "configmap")
        elif "secret" in volume:
            src = dict(volume["secret"], name=volume["secret"].get("secretName"))
            self._config_source(src, target, src.get("defaultMode", 420), "secret")
        elif "projected" in volume:
            mode = volume["projected"].get("defaultMode", 420)
            for source in volume["projected"].get("sources") or []:
                self._projection(source, target, mode)
        elif "downwardAPI" in volume:
            self._downward(volume["downwardAPI"].get("items") or [], target,
                           volume["downwardAPI"].get("defaultMode", 420))
        # emptyDir, hostPath and the rest: an empty directory

    def _projection(self, source: dict[str, Any], target: Path, mode: int) -> None:
        if "serviceAccountToken" in source:
            sat = source["serviceAccountToken"]
            entry = (target / sat["path"], sat.get("audience"),
                     int(sat.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS),
                     0o600 if mode == 420 else mode)
            self.tokens.append(entry)
            self.write_token(*entry)
        elif "configMap" in source:
            self._config_source(source["configMap"], target, mode, "configmap")
        elif "secret" in source:
            self._config_source(source["secret"], target, mode, "secret")
        elif "downwardAPI" in source:
            self._downward(source["downwardAPI"].get("items") or [], target, mode)

    def write_token(self, path: Path, audience: str | None, expiration: int, mode: int) -> None:
        token = self.kubelet.mint_pod_token(self.pod, audience, expiration)
        tmp = path.with_name(path.name + ".tmp")
        _write(tmp, token.encode(), mode)
        tmp.replace(path)  # atomic, as the kubelet's atomic writer swaps the files

    def refresh_tokens(self, stop: threading.Event) -> None:
        """Re-mint projected tokens at 80% of their lifetime, as the kubelet does."""
        if not self.tokens:
            return
        interval = 0.8 * min(expiration for _, _, expiration, _ in self.tokens)
        while not stop.wait(interval):
            for entry in self.tokens:
                try:
                    self.write_token(*entry)
                except (MountError, OSError):
                    pass

    def _config_source(self, src: dict[str, Any], target: Path, mode: int, kind: str) -> None:
        name = src.get("name") or ""
        plural = "configmaps" if kind == "configmap" else "secrets"
        namespace = self.pod["metadata"]["namespace"]
        obj = self.cluster.store.try_get(plural, namespace, name)
        if obj is None:
            if src.get("optional"):
                return
            raise MountError(f'{kind} "{name}" not found')
        data = object_data(obj, kind)
        for path, value, item_mode in _items_or_all(data, src.get("items"), kind):
            _write(target / path, value, item_mode or mode)

    def _downward(self, items: list[dict[str, Any]], target: Path, mode: int) -> None:
        for item in items:
            ref = item.get("fieldRef")
            value = field_value(self.pod, ref["fieldPath"]) if ref else "0"
            _write(target / item["path"], value.encode(), item.get("mode") or mode)

    def mounts_for(self, container: dict[str, Any]) -> list[tuple[str, Path]]:
        """(mountPath, host path) pairs, longest mount path first."""
        pairs = []
        for mount in container.get("volumeMounts") or []:
            host = self.volumes_dir / mount["name"]
            if mount.get("subPath"):
                host = host / mount["subPath"]
            pairs.append((mount["mountPath"].rstrip("/") or "/", host))
        return sorted(pairs, key=lambda p: len(p[0]), reverse=True)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def object_data(obj: dict[str, Any], kind: str) -> dict[str, bytes]:
    if kind == "secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def rewrite_paths(value: str, mounts: list[tuple[str, Path]]) -> str:
    """Point an absolute path under a container mount at the mount's directory on the node."""
    for mount_path, host in mounts:
        if value == mount_path:
            return str(host)
        if value.startswith(mount_path + "/"):
            return str(host) + value[len(mount_path):]
    return value


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: known names are replaced, ``$$`` escapes."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _VAR_REF.sub(sub, value)
