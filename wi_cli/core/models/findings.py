"""What commands return and the render layer prints: findings with their evidence and fix, and
the command result."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import ExitCode


# doctor's layers, in the order it checks and prints them
LAYERS = ("cluster", "webhook", "workload", "identity", "rbac", "live")


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


@dataclass
class Evidence:
    expected: Any
    actual: Any


@dataclass
class Remediation:
    text: str
    commands: list[str] = field(default_factory=list)


@dataclass
class Finding:
    id: str
    title: str
    layer: str
    status: Status
    summary: str
    evidence: Evidence | None = None
    remediation: Remediation | None = None
    docs: str | None = None
    # an `error` because Azure or Kubernetes could not be read (not a crashed check)
    unreadable: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "layer": self.layer,
            "status": self.status.value,
            "summary": self.summary,
            "evidence": ({"expected": self.evidence.expected, "actual": self.evidence.actual}
                         if self.evidence else None),
            "remediation": ({"text": self.remediation.text,
                             "commands": list(self.remediation.commands)}
                            if self.remediation else {"text": "", "commands": []}),
            "docs": self.docs,
        }


@dataclass
class CommandResult:
    """What a command produced: data for stdout, findings, and the exit code it implies."""

    command: str
    data: Any = None
    findings: list[Finding] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.OK
    view: str | None = None  # the human view to print it with (render/views.py; default: command)

    @property
    def status(self) -> str:
        return "ok" if self.exit_code == ExitCode.OK else "problems"


def unreadable_sources(findings: list[Finding]) -> list[str]:
    """What could not be read, once each ("could not read identities: ..."), in order."""
    said = (f.summary.removeprefix("Could not check: ") for f in findings if f.unreadable)
    return list(dict.fromkeys(said))
