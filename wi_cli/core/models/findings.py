"""What commands return and the render layer prints: findings with their evidence and fix, and
the command result."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class Target:
    """What a finding is about (../shared/DESIGN.md §3.5); fields that do not apply are None."""

    context: str | None = None  # the kubeconfig context
    namespace: str | None = None
    service_account: str | None = None
    identity: str | None = None
    pod: str | None = None
    workload: str | None = None  # "deployment/web" when the finding is about a workload
    issuer: str | None = None  # an OIDC issuer (fleet findings about an identity's trusts)

    def to_json(self) -> dict[str, str | None]:
        return {"context": self.context, "namespace": self.namespace,
                "service_account": self.service_account, "identity": self.identity,
                "pod": self.pod, "workload": self.workload, "issuer": self.issuer}

    @property
    def label(self) -> str:
        """The shortest name that says what it is: ns/pod, ns/workload, ns/sa, identity (with
        the issuer, when the finding is about one)."""
        name = self.pod or self.workload or self.service_account
        if name:
            return f"{self.namespace}/{name}" if self.namespace else name
        if self.issuer:
            return f"{self.identity} {self.issuer}" if self.identity else self.issuer
        return self.identity or self.namespace or ""


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
    # unreadable because the credentials were refused (a 401 mid-run): exit 3, not 4
    refused_credentials: bool = field(default=False, compare=False)
    target: Target = field(default_factory=Target)
    key: str = ""  # check id + target, unique in one run (the runner sets it)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key or self.id,
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
            "target": self.target.to_json(),
        }


@dataclass
class CommandResult:
    """What a command produced: data for stdout, findings, and the exit code it implies."""

    command: str
    data: Any = None
    findings: list[Finding] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.OK
    view: str | None = None  # the human view to print it with (render/views.py; default: command)
    view_options: dict[str, Any] = field(default_factory=dict)  # how that view shows it

    @property
    def status(self) -> str:
        return "ok" if self.exit_code == ExitCode.OK else "problems"


def assign_keys(findings: list[Finding], context: str | None = None) -> None:
    """Give every finding its context and a key (check id + target) unique among them."""
    seen: dict[str, int] = {}
    for f in findings:
        if context is not None and f.target.context is None:
            f.target = replace(f.target, context=context)
        base = f"{f.id}:{f.target.label}" if f.target.label else f.id
        seen[base] = seen.get(base, 0) + 1
        f.key = base if seen[base] == 1 else f"{base}#{seen[base]}"


def unreadable_sources(findings: list[Finding]) -> list[str]:
    """What could not be read, once each ("could not read identities: ..."), in order."""
    said = (f.summary.removeprefix("Could not check: ") for f in findings if f.unreadable)
    return list(dict.fromkeys(said))
