"""Object validation with the real API server's field paths and messages (422 Invalid)."""

from __future__ import annotations

import re
from typing import Any

from . import crds
from .errors import Cause, Raw, invalid
from .resources import ResourceType

_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, including its odd spacing between examples."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


SUBDOMAIN_MSG = regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character", _SUBDOMAIN, "example.com")
LABEL_MSG = regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character", _LABEL, "my-name", "123-abc")
LABEL_1035_MSG = regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character", _LABEL_1035, "my-name",
    "abc-123")


def dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not re.fullmatch(_SUBDOMAIN, value):
        errs.append(SUBDOMAIN_MSG)
    return errs


def dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(_LABEL, value):
        errs.append(LABEL_MSG)
    return errs


def dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(_LABEL_1035, value):
        errs.append(LABEL_1035_MSG)
    return errs


def path_segment(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


_NAME_RULES = {"subdomain": dns1123_subdomain, "label": dns1123_label,
               "label1035": dns1035_label, "path": path_segment}


def qualified_name(value: str) -> list[str]:
    errs = []
    prefix, _, name = value.rpartition("/")
    if "/" in value:
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + e for e in dns1123_subdomain(prefix)]
    if not name:
        errs.append("name part must be non-empty")
    else:
        if len(name) > 63:
            errs.append("name part must be no more than 63 characters")
        if not re.fullmatch(_QUALIFIED_NAME, name):
            errs.append(regex_error(
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                "start and end with an alphanumeric character", _QUALIFIED_NAME, "MyName",
                "my.name", "123-abc"))
    return errs


def label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(_LABEL_VALUE, value):
        errs.append(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character", _LABEL_VALUE,
            "MyValue", "my_value", "12345"))
    return errs


def _meta_causes(rt: ResourceType, meta: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    rule = _NAME_RULES[rt.name_rule]
    name = meta.get("name") or ""
    generate = meta.get("generateName") or ""
    if generate:
        for msg in rule(generate[:-1] if generate.endswith("-") else generate):
            causes.append(Cause("FieldValueInvalid", "metadata.generateName", msg, generate))
    if not name:
        causes.append(Cause("FieldValueRequired", "metadata.name",
                            "name or generateName is required"))
    else:
        for msg in rule(name):
            causes.append(Cause("FieldValueInvalid", "metadata.name", msg, name))
    for key, value in (meta.get("labels") or {}).items():
        for msg in qualified_name(key):
            causes.append(Cause("FieldValueInvalid", "metadata.labels", msg, key))
        for msg in label_value(str(value)):
            causes.append(Cause("FieldValueInvalid", "metadata.labels", msg, value))
    for key in meta.get("annotations") or {}:
        for msg in qualified_name(key):
            causes.append(Cause("FieldValueInvalid", "metadata.annotations", msg, key.lower()))
    return causes


def _container_causes(containers: list[dict[str, Any]], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        here = f"{path}[{i}]"
        name = c.get("name") or ""
        if not name:
            causes.append(Cause("FieldValueRequired", f"{here}.name", ""))
        else:
            causes += [Cause("FieldValueInvalid", f"{here}.name", m, name)
                       for m in dns1123_label(name)]
            if name in seen:
                causes.append(Cause("FieldValueDuplicate", f"{here}.name", "", name))
            seen.add(name)
        if not c.get("image"):
            causes.append(Cause("FieldValueRequired", f"{here}.image", ""))
        for j, env in enumerate(c.get("env") or []):
            if not env.get("name"):
                causes.append(Cause("FieldValueRequired", f"{here}.env[{j}].name", ""))
    return causes


def pod_spec_causes(spec: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    containers = spec.get("containers") or []
    if not containers:
        causes.append(Cause("FieldValueRequired", f"{path}.containers", ""))
    causes += _container_causes(spec.get("initContainers") or [], f"{path}.initContainers")
    causes += _container_causes(containers, f"{path}.containers")
    policy = spec.get("restartPolicy")
    if policy not in (None, "Always", "OnFailure", "Never"):
        causes.append(Cause("FieldValueNotSupported", f"{path}.restartPolicy",
                            'supported values: "Always", "OnFailure", "Never"', policy))
    volumes = [v.get("name") for v in spec.get("volumes") or []]
    for i, name in enumerate(volumes):
        if name in volumes[:i]:
            causes.append(Cause("FieldValueDuplicate", f"{path}.volumes[{i}].name", "", name))
    for kind in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(kind) or []):
            for j, m in enumerate(c.get("volumeMounts") or []):
                if m.get("name") not in volumes:
                    causes.append(Cause("FieldValueNotFound",
                                        f"{path}.{kind}[{i}].volumeMounts[{j}].name", "",
                                        m.get("name")))
    return causes


def _workload_causes(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    causes: list[Cause] = []
    if not selector:
        causes.append(Cause("FieldValueRequired", "spec.selector", ""))
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    wanted = (selector or {}).get("matchLabels") or {}
    if selector and any(labels.get(k) != v for k, v in wanted.items()):
        go_map = "map[string]string{" + ", ".join(
            f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"
        causes.append(Cause("FieldValueInvalid", "spec.template.metadata.labels",
                            "`selector` does not match template `labels`", Raw(go_map)))
    causes += pod_spec_causes(template.get("spec") or {}, "spec.template.spec")
    return causes


def _job_restart_policy(template: dict[str, Any], path: str) -> list[Cause]:
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy in ("OnFailure", "Never"):
        return []
    return [Cause("FieldValueNotSupported", path, 'supported values: "OnFailure", "Never"',
                  policy)]


def _cronjob_causes(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if not spec.get("schedule"):
        causes.append(Cause("FieldValueRequired", "spec.schedule", ""))
    template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    causes += pod_spec_causes(template.get("spec") or {}, "spec.jobTemplate.spec.template.spec")
    causes += _job_restart_policy(template, "spec.jobTemplate.spec.template.spec.restartPolicy")
    return causes


def _kind_causes(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    if crds.is_custom(rt):
        return rt.causes(obj)  # type: ignore[attr-defined]
    if rt.plural == crds.CRDS:
        return crds.crd_causes(obj)
    if rt.plural == "pods":
        return pod_spec_causes(obj.get("spec") or {}, "spec")
    if rt.plural in ("deployments", "replicasets", "statefulsets", "daemonsets"):
        return _workload_causes(obj)
    if rt.plural == "jobs":
        return _workload_causes(obj) + _job_restart_policy(
            (obj.get("spec") or {}).get("template") or {}, "spec.template.spec.restartPolicy")
    if rt.plural == "cronjobs":
        return _cronjob_causes(obj)
    if rt.plural in ("configmaps", "secrets"):
        causes = []
        for field in ("data", "binaryData"):
            for key in obj.get(field) or {}:
                if not re.fullmatch(_CONFIG_KEY, key) or len(key) > 253:
                    causes.append(Cause("FieldValueInvalid", f"{field}[{key}]", regex_error(
                        "a valid config key must consist of alphanumeric characters, '-', '_' "
                        "or '.'", _CONFIG_KEY, "key.name", "KEY_NAME", "key-name"), key))
        return causes
    return []


def validate_create(rt: ResourceType, obj: dict[str, Any]) -> None:
    meta = obj.get("metadata") or {}
    causes = _meta_causes(rt, meta) + _kind_causes(rt, obj)
    if causes:
        raise invalid(rt, meta.get("name") or meta.get("generateName") or "", causes)


_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")
POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)")


def _pod_spec_without_mutable(spec: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in spec.items() if k not in _POD_MUTABLE}
    for key in ("containers", "initContainers"):
        if key in out:
            out[key] = [{k: v for k, v in c.items() if k != "image"} for c in out[key]]
    return out


def validate_update(rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
    meta = new.get("metadata") or {}
    causes = [c for c in _meta_causes(rt, meta) if c.field != "metadata.generateName"]
    causes += _kind_causes(rt, new)
    if rt.plural == "pods" and (_pod_spec_without_mutable(new.get("spec") or {})
                                != _pod_spec_without_mutable(old.get("spec") or {})):
        causes.append(Cause("FieldValueForbidden", "spec", POD_UPDATE_FORBIDDEN))
    if causes:
        raise invalid(rt, meta.get("name") or "", causes)
