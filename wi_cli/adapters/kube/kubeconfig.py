"""Kubeconfig files: read a KUBECONFIG list merged as kubectl merges it, and merge a received
kubeconfig (e.g. the user kubeconfig AKS returns) into a file.

Reading (:func:`load_merged`) follows kubectl's rules ("Organizing Cluster Access Using
kubeconfig Files", merging rules; client-go ``clientcmd`` loader): empty names in the list are
ignored and missing files skipped; a file that cannot be deserialized is an error; the first file
to set a value or a named entry wins and is never changed by a later file (``current-context``
included); relative paths in an entry resolve against the file that defines it.

Writing: entries are matched by name, as ``kubectl`` and ``az aks get-credentials`` do: an
incoming cluster, user or context replaces the entry of the same name and everything else in the
file stays. The file holds credentials, so it is written atomically with mode 0600 and no error
message ever quotes its content (a YAML error gives only the line and column).
"""

from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...core.errors import ConfigError

SECTIONS = ("clusters", "users", "contexts")


class KubeconfigError(ConfigError):
    pass


@dataclass
class MergeResult:
    config: dict[str, Any]
    context: str  # the context the incoming kubeconfig selects
    added: list[str] = field(default_factory=list)  # "context foo", "user bar" ...
    replaced: list[str] = field(default_factory=list)
    previous_context: str | None = None  # current-context before the merge


def invalid(where: str, why: str) -> KubeconfigError:
    return KubeconfigError(f"The kubeconfig {where} is not valid: {why}.",
                           [f"Fix or move {where} aside and run the command again "
                            "('kubectl config view' shows what kubectl makes of it)."])


def parse_kubeconfig(text: str | bytes, where: str) -> dict[str, Any] | None:
    """The document as a dict (None for an empty file); raises KubeconfigError, never quoting it."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid(where, "it is not UTF-8 text") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise invalid(where, f"it is not YAML (error{at})") from None
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise invalid(where, f"it is a YAML {_kind(doc)}, not a mapping of clusters, users and "
                             "contexts")
    for section in SECTIONS:
        _entries(doc, section, where)
    return doc


def _kind(value: Any) -> str:
    return {str: "string", list: "list", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__)


def _entries(doc: dict[str, Any], section: str, where: str) -> list[dict[str, Any]]:
    entries = doc.get(section) or []
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and e["name"] for e in entries):
        raise invalid(where, f"'{section}' must be a list of entries, each with a name")
    for entry in entries:
        body = entry.get(section[:-1])
        if body is not None and not isinstance(body, dict):
            raise invalid(where, f"the {section[:-1]} '{entry['name']}' is a YAML "
                                 f"{_kind(body)}, not a mapping")
    return entries


# -- reading a KUBECONFIG list, as kubectl does ---------------------------------------------------

# client-go ResolveLocalPaths: the file references of each kind of entry
LOCAL_PATHS = {"clusters": ("certificate-authority",),
               "users": ("client-certificate", "client-key", "tokenFile")}


def _resolved(section: str, entry: dict[str, Any], base: Path) -> dict[str, Any]:
    entry = copy.deepcopy(entry)
    body = entry.get(section[:-1]) or {}
    for key in LOCAL_PATHS.get(section, ()):
        value = body.get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            body[key] = str(base / value)
    plugin = body.get("exec") if section == "users" else None
    if isinstance(plugin, dict) and isinstance(plugin.get("command"), str) and \
            os.sep in plugin["command"] and not Path(plugin["command"]).is_absolute():
        plugin["command"] = str(base / plugin["command"])
    return entry


def load_merged(paths: str) -> tuple[dict[str, Any], list[Path]]:
    """The kubeconfig a KUBECONFIG-style list (``a:b``) means, and the files that were read."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config",
                              **{section: [] for section in SECTIONS}}
    read: list[Path] = []
    for name in paths.split(os.pathsep):
        if not name:
            continue
        path = Path(name).expanduser()
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise invalid(str(path), f"it cannot be read ({exc.strerror})") from None
        read.append(path)
        doc = parse_kubeconfig(raw, str(path))
        if doc is None:
            continue
        base = path.resolve().parent
        for section in SECTIONS:
            names = {e["name"] for e in merged[section]}
            merged[section] += [_resolved(section, e, base) for e in _entries(doc, section,
                                                                              str(path))
                                if e["name"] not in names]
        for key, value in doc.items():
            if key not in SECTIONS and value not in (None, "") and \
                    merged.get(key) in (None, ""):
                merged[key] = copy.deepcopy(value)
    return merged, read


def entry(doc: dict[str, Any], section: str, name: str | None) -> dict[str, Any] | None:
    """The body of the named cluster, user or context (None when there is none)."""
    for item in doc.get(section) or []:
        if item["name"] == name:
            return item.get(section[:-1]) or {}
    return None


def selected_context(incoming: dict[str, Any], where: str = "received") -> str:
    contexts = _entries(incoming, "contexts", where)
    current = incoming.get("current-context")
    names = [c["name"] for c in contexts]
    if isinstance(current, str) and current in names:
        return current
    if len(names) == 1:
        return names[0]
    raise KubeconfigError(f"The {where} kubeconfig does not say which of its "
                          f"{len(names)} contexts to use.")


def merge(existing: dict[str, Any] | None, incoming: dict[str, Any],
          set_current: bool = True) -> MergeResult:
    """``existing`` with every cluster, user and context of ``incoming`` added or replaced."""
    context = selected_context(incoming)
    merged = copy.deepcopy(existing) if existing else {}
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    result = MergeResult(merged, context, previous_context=merged.get("current-context") or None)
    for section in SECTIONS:
        kept = list(_entries(merged, section, "existing"))
        for entry in _entries(incoming, section, "received"):
            label = f"{section[:-1]} {entry['name']}"
            index = next((i for i, e in enumerate(kept) if e["name"] == entry["name"]), None)
            if index is None:
                kept.append(copy.deepcopy(entry))
                result.added.append(label)
            else:
                kept[index] = copy.deepcopy(entry)
                result.replaced.append(label)
        merged[section] = kept
    if set_current or not merged.get("current-context"):
        merged["current-context"] = context
    merged.setdefault("preferences", {})
    return result


def merge_text(existing_text: str | None, incoming_text: str | bytes,
               set_current: bool = True, where: str = "file") -> tuple[str, MergeResult]:
    existing = parse_kubeconfig(existing_text, where) if existing_text else None
    incoming = parse_kubeconfig(incoming_text, "received")
    if incoming is None:
        raise KubeconfigError("The received kubeconfig is empty.")
    result = merge(existing, incoming, set_current)
    return yaml.safe_dump(result.config, sort_keys=False, default_flow_style=False), result


def default_path(kubeconfig: str) -> Path:
    """The file to write: the first of a KUBECONFIG-style list."""
    return Path(kubeconfig.split(os.pathsep)[0]).expanduser()


def merge_into_file(path: Path, incoming_text: str | bytes,
                    set_current: bool = True) -> MergeResult:
    """Merge into ``path`` (created if missing) atomically, leaving it with mode 0600."""
    target = path.resolve() if path.is_symlink() else path
    try:
        existing_text = target.read_text(encoding="utf-8") if target.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"Cannot read the kubeconfig {target}: "
                              f"{getattr(exc, 'strerror', None) or 'not UTF-8 text'}.") from None
    text, result = merge_text(existing_text, incoming_text, set_current, str(target))
    _write_private(target, text)
    return result


def _write_private(target: Path, text: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=target.parent)
    except OSError as exc:
        raise KubeconfigError(f"Cannot write the kubeconfig {target}: {exc.strerror}.",
                              ["Pass --kubeconfig PATH to a writable file."]) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class KubeconfigFiles:
    """The Kubeconfigs port: merges a received kubeconfig into a file (see merge_into_file)."""

    def merge(self, path: Path, incoming: bytes) -> MergeResult:
        return merge_into_file(path, incoming)
