"""Terraform's machine-readable UI (``-json``) as typed events, and what a plan or apply said.

The UI is a stable, versioned stream of one JSON object per line (``planned_change``,
``change_summary``, ``apply_start``, ``apply_progress``, ``apply_complete``, ``apply_errored``,
``provision_progress``, ``diagnostic`` ...): https://developer.hashicorp.com/terraform/internals/machine-readable-ui
Everything here is pure: lines in, dataclasses out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Event:
    """One line of Terraform's JSON UI. Types without a dedicated class stay ``Event``."""

    type: str
    message: str
    level: str = "info"
    timestamp: str = ""


EventCallback = Callable[[Event], None]


@dataclass(frozen=True, kw_only=True)
class ResourceEvent(Event):
    address: str
    resource_type: str = ""
    action: str = ""


@dataclass(frozen=True, kw_only=True)
class PlannedChange(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ResourceDrift(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ApplyStart(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ApplyProgress(ResourceEvent):
    elapsed_seconds: float = 0


@dataclass(frozen=True, kw_only=True)
class ApplyComplete(ResourceEvent):
    elapsed_seconds: float = 0
    id_key: str = ""
    id_value: str = ""


@dataclass(frozen=True, kw_only=True)
class ApplyErrored(ResourceEvent):
    elapsed_seconds: float = 0


@dataclass(frozen=True, kw_only=True)
class RefreshStart(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class RefreshComplete(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ProvisionStart(ResourceEvent):
    provisioner: str = ""


@dataclass(frozen=True, kw_only=True)
class ProvisionProgress(ResourceEvent):
    provisioner: str = ""
    output: str = ""


@dataclass(frozen=True, kw_only=True)
class ProvisionComplete(ResourceEvent):
    provisioner: str = ""


@dataclass(frozen=True, kw_only=True)
class ProvisionErrored(ResourceEvent):
    provisioner: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangeSummary(Event):
    add: int = 0
    change: int = 0
    remove: int = 0
    import_: int = 0
    operation: str = ""


@dataclass(frozen=True, kw_only=True)
class Diagnostic(Event):
    severity: str
    summary: str
    detail: str = ""
    address: str = ""
    filename: str = ""
    line: int | None = None

    def describe(self) -> str:
        where = f" ({self.filename}:{self.line})" if self.filename and self.line else ""
        target = f"{self.address}: " if self.address else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{target}{self.summary}{detail}{where}"


@dataclass(frozen=True, kw_only=True)
class OutputsDeclared(Event):
    """The ``outputs`` event: names mapped to whether each is sensitive (no values)."""

    sensitive: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TextLine(Event):
    """A non-JSON line (``terraform init`` before 1.9 has no ``-json``)."""


_HOOK_EVENTS: dict[str, type[ResourceEvent]] = {
    "apply_start": ApplyStart,
    "apply_progress": ApplyProgress,
    "apply_complete": ApplyComplete,
    "apply_errored": ApplyErrored,
    "refresh_start": RefreshStart,
    "refresh_complete": RefreshComplete,
    "provision_start": ProvisionStart,
    "provision_progress": ProvisionProgress,
    "provision_complete": ProvisionComplete,
    "provision_errored": ProvisionErrored,
}
_PROVISIONER_EVENTS = (ProvisionStart, ProvisionProgress, ProvisionComplete, ProvisionErrored)


def _resource_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    resource = payload.get("resource") or {}
    return {
        "address": str(resource.get("addr", "")),
        "resource_type": str(resource.get("resource_type", "")),
        "action": str(payload.get("action", "")),
    }


def _hook_extras(cls: type[ResourceEvent], hook: Mapping[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if issubclass(cls, (ApplyProgress, ApplyComplete, ApplyErrored)):
        extras["elapsed_seconds"] = hook.get("elapsed_seconds", 0) or 0
    if cls is ApplyComplete:
        extras["id_key"] = str(hook.get("id_key") or "")
        extras["id_value"] = str(hook.get("id_value") or "")
    if cls in _PROVISIONER_EVENTS:
        extras["provisioner"] = str(hook.get("provisioner", ""))
    if cls is ProvisionProgress:
        extras["output"] = str(hook.get("output", ""))
    return extras


def _diagnostic(base: dict[str, Any], diag: Mapping[str, Any]) -> Diagnostic:
    rng = diag.get("range") or {}
    return Diagnostic(
        **base,
        severity=str(diag.get("severity", "error")),
        summary=str(diag.get("summary", "")),
        detail=str(diag.get("detail", "") or ""),
        address=str(diag.get("address", "") or ""),
        filename=str(rng.get("filename", "") or ""),
        line=(rng.get("start") or {}).get("line"),
    )


def parse_event(obj: Mapping[str, Any]) -> Event:
    """Turn one decoded JSON UI message into the matching event dataclass."""
    kind = str(obj.get("type", ""))
    base = {
        "type": kind,
        "message": str(obj.get("@message", "")),
        "level": str(obj.get("@level", "info")),
        "timestamp": str(obj.get("@timestamp", "")),
    }
    if kind in _HOOK_EVENTS:
        cls = _HOOK_EVENTS[kind]
        hook = obj.get("hook") or {}
        return cls(**base, **_resource_fields(hook), **_hook_extras(cls, hook))
    if kind in ("planned_change", "resource_drift"):
        cls2 = PlannedChange if kind == "planned_change" else ResourceDrift
        return cls2(**base, **_resource_fields(obj.get("change") or {}))
    if kind == "change_summary":
        changes = obj.get("changes") or {}
        return ChangeSummary(
            **base,
            add=int(changes.get("add", 0)),
            change=int(changes.get("change", 0)),
            remove=int(changes.get("remove", 0)),
            import_=int(changes.get("import", 0)),
            operation=str(changes.get("operation", "")),
        )
    if kind == "diagnostic":
        return _diagnostic(base, obj.get("diagnostic") or {})
    if kind == "outputs":
        declared = obj.get("outputs") or {}
        return OutputsDeclared(
            **base, sensitive={k: bool((v or {}).get("sensitive")) for k, v in declared.items()}
        )
    return Event(**base)


def parse_line(line: str) -> Event | None:
    """Parse one stdout line; blank lines give None, non-JSON lines a ``TextLine``."""
    text = line.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            return parse_event(obj)
    return TextLine(type="text", message=text)


def diagnostics(events: Iterable[Event], severity: str) -> list[Diagnostic]:
    return [e for e in events if isinstance(e, Diagnostic) and e.severity == severity]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PlanSummary:
    plan_file: Path
    destroy: bool
    add: int
    change: int
    remove: int
    import_: int
    changes: list[PlannedChange]
    warnings: list[Diagnostic]

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.remove or self.import_)

    @property
    def total(self) -> int:
        """Resource operations the apply will perform (a replace counts twice)."""
        return self.add + self.change + self.remove

    def actions(self) -> dict[str, str]:
        return {c.address: c.action for c in self.changes}


@dataclass(frozen=True)
class ApplyResult:
    add: int
    change: int
    remove: int
    operation: str
    completed: list[str]
    warnings: list[Diagnostic]
    elapsed_seconds: float


@dataclass(frozen=True, repr=False)
class Output:
    name: str
    value: Any = field(repr=False)
    sensitive: bool
    type: Any = None

    def __repr__(self) -> str:  # never show a sensitive value in a traceback or log
        shown = "<sensitive>" if self.sensitive else repr(self.value)
        return f"Output(name={self.name!r}, value={shown}, sensitive={self.sensitive})"


def public_outputs(outputs: Mapping[str, Output]) -> dict[str, Any]:
    """Plain ``name -> value`` of the outputs not marked sensitive."""
    return {name: out.value for name, out in outputs.items() if not out.sensitive}


def parse_outputs(raw: Mapping[str, Any]) -> dict[str, Output]:
    """``terraform output -json`` (name -> {value, type, sensitive}) as :class:`Output`s."""
    return {
        name: Output(name=name, value=o.get("value"), sensitive=bool(o.get("sensitive")),
                     type=o.get("type"))
        for name, o in raw.items()
    }


def _last_summary(events: list[Event]) -> ChangeSummary:
    summaries = [e for e in events if isinstance(e, ChangeSummary)]
    return summaries[-1] if summaries else ChangeSummary(type="change_summary", message="")


def summarise_plan(events: list[Event], plan_file: Path, destroy: bool) -> PlanSummary:
    """What ``terraform plan -json`` said it will do (its last ``change_summary`` counts)."""
    last = _last_summary(events)
    return PlanSummary(
        plan_file=plan_file,
        destroy=destroy,
        add=last.add,
        change=last.change,
        remove=last.remove,
        import_=last.import_,
        changes=[e for e in events if isinstance(e, PlannedChange)],
        warnings=diagnostics(events, "warning"),
    )


def summarise_apply(events: list[Event], elapsed: float) -> ApplyResult:
    last = _last_summary(events)
    return ApplyResult(
        add=last.add,
        change=last.change,
        remove=last.remove,
        operation=last.operation,
        completed=[e.address for e in events if isinstance(e, ApplyComplete)],
        warnings=diagnostics(events, "warning"),
        elapsed_seconds=elapsed,
    )
