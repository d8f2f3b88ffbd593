"""What `wi probe` is asked and what it concludes: the request, what ARM says about the
identity the pod presents, what the agent is pointed at, and the outcome: the pod, the report,
and the verdict as findings like doctor's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .azure import FederatedCredential, Identity, credential_matches
from .findings import Finding, Remediation, Status
from .probe import ProbeReport, TokenClaims
from .propagation import (
    IDENTITY_PROPAGATION_CODES,
    PROPAGATION_CODES,
    PROPAGATION_WAIT_SECONDS,
    PROPAGATION_WINDOW_SECONDS,
    Propagation,
    age_since,
    propagation_of,
)

__all__ = ["DEFAULT_PROBE_IMAGE", "DEFAULT_PROBE_TIMEOUT", "ProbeRequest", "ArmView",
           "ArmResource", "ProbeTargets", "PodRun", "ProbeFinding", "ProbeVerdict", "ProbeOutcome"]

DEFAULT_PROBE_IMAGE = "mcr.microsoft.com/azurelinux/distroless/python:3.12"
DEFAULT_PROBE_TIMEOUT = 120.0


@dataclass
class ProbeRequest:
    namespace: str = "default"
    service_account: str = "default"
    image: str = DEFAULT_PROBE_IMAGE
    timeout: float = DEFAULT_PROBE_TIMEOUT
    keep: bool = False
    keyvault: str | None = None  # vault name or resource id
    storage: str | None = None  # ACCOUNT/CONTAINER
    propagation_wait: float = PROPAGATION_WAIT_SECONDS  # seconds the agent may wait for Entra


# -- what ARM says about the identity (read with the operator's credentials) ----------------------

@dataclass(frozen=True)
class ArmView:
    """The identity the service account names and its credentials, as ARM showed them at
    ``now`` (epoch seconds); ``readable`` False: ARM could not be read (or was not asked)."""

    readable: bool = False
    identity: Identity | None = None
    credentials: tuple[FederatedCredential, ...] = ()
    now: float = 0.0

    @property
    def identity_age(self) -> float | None:
        return age_since(self.identity.created_at, None, self.now)[0] if self.identity else None

    def age(self, credential: FederatedCredential) -> tuple[float | None, bool]:
        """Seconds since the credential was created or changed, and whether it was a change."""
        return age_since(credential.created_at, credential.modified_at, self.now)

    def retry_codes(self, subject: str) -> list[str] | None:
        """The refusals the agent should retry for this subject: a credential for it is young
        or of unknown age (the matching codes), the identity is young (700016); None when ARM
        could not tell (the agent then retries its default set)."""
        if not self.readable or self.identity is None:
            return None
        codes = []
        ages = [self.age(c)[0] for c in self.credentials if c.subject == subject]
        if any(a is None or a < PROPAGATION_WINDOW_SECONDS for a in ages):
            codes += sorted(PROPAGATION_CODES)
        young = self.identity_age
        if young is not None and young < PROPAGATION_WINDOW_SECONDS:
            codes += sorted(IDENTITY_PROPAGATION_CODES)
        return codes

    def propagation(self, claims: TokenClaims | None, code: str | None) -> Propagation | None:
        """The shared rule (propagation_of) for the refusal the agent got with these claims."""
        if not self.readable or self.identity is None:
            return None
        claims = claims or TokenClaims()
        exact = next((c for c in self.credentials for aud in claims.audiences
                      if credential_matches(c, claims.iss or "", claims.sub or "", aud)), None)
        age, changed = self.age(exact) if exact else (None, False)
        return propagation_of(code, credential_age=age, exact_match=exact is not None,
                              identity_age=self.identity_age, changed=changed)


@dataclass(frozen=True)
class ArmResource:
    """Any ARM resource as ARM returns it (what the probe's data-plane targets are found by)."""

    id: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeTargets:
    """What the agent is told to look at (all resolved by the operator, through ARM)."""

    scopes: list[str] = field(default_factory=list)
    keyvault_id: str | None = None
    keyvault_uri: str | None = None
    storage_id: str | None = None
    blob_container_url: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"scopes": list(self.scopes),
                "keyvault": {"id": self.keyvault_id, "uri": self.keyvault_uri}
                if self.keyvault_id else None,
                "storage": {"id": self.storage_id, "container_url": self.blob_container_url}
                if self.storage_id else None,
                "notes": list(self.notes)}


# -- the outcome ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PodRun:
    """What became of the probe pod."""

    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    log_tail: tuple[str, ...] | None = None  # the last lines, when the pod left no report

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase, "reason": self.reason}
        for key, value in (("exit_code", self.exit_code), ("message", self.message),
                           ("log_tail", self.log_tail)):
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out


_COMMANDS = ("wi ", "az ", "kubectl ")


@dataclass
class ProbeFinding(Finding):
    """One step of the probe's verdict, a Finding like doctor's, with the causes and fixes the
    closing lines print. ``kind``: a ``step`` of the chain (pod, report, injection, token,
    exchange), a data-plane ``check``, or ``advice`` (a warning that changes no verdict)."""

    causes: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    kind: str = "step"

    def __post_init__(self) -> None:
        if self.remediation is None and self.fixes:
            self.remediation = Remediation(
                " ".join(f for f in self.fixes if not f.startswith(_COMMANDS)),
                [f for f in self.fixes if f.startswith(_COMMANDS)])

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "causes": list(self.causes)}


@dataclass(frozen=True)
class ProbeVerdict:
    """The closing lines: the first step of the chain that failed, else the token exchange with
    the data-plane checks that failed (which fail the probe), and the advice as warnings."""

    status: Status
    summary: str
    causes: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAIL

    @classmethod
    def of(cls, findings: list[ProbeFinding]) -> "ProbeVerdict":
        steps = [f for f in findings if f.kind == "step"]
        head = next((f for f in steps if f.status is Status.FAIL), steps[-1] if steps else None)
        if head is None:
            return cls(Status.FAIL, "The probe reached no verdict.")
        status, summary = head.status, head.summary
        causes, fixes = list(head.causes), list(head.fixes)
        failed = [f for f in findings if f.kind == "check" and f.status is not Status.OK]
        if failed and head.status is not Status.FAIL:
            status = Status.FAIL
            summary += f" {len(failed)} data-plane check(s) failed."
            causes += [c for f in failed for c in f.causes]
            fixes += [x for f in failed for x in f.fixes]
        warnings = tuple(" ".join((f.summary, *f.fixes)) for f in findings
                         if f.kind == "advice" and f.status is Status.WARN)
        return cls(status, summary, tuple(c for c in causes if c), tuple(fixes), warnings)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status.value, "summary": self.summary,
                "causes": list(self.causes), "fixes": list(self.fixes),
                "warnings": list(self.warnings)}


def _json(value: Any) -> Any:
    return value.to_json() if value is not None else None


@dataclass
class ProbeOutcome:
    request: ProbeRequest
    pod_name: str
    outcome: str  # completed | failed | refused
    report: ProbeReport | None
    targets: ProbeTargets
    findings: list[ProbeFinding]
    pod: PodRun = field(default_factory=PodRun)
    cleanup: list[str] = field(default_factory=list)  # what could not be deleted

    @property
    def verdict(self) -> ProbeVerdict:
        return ProbeVerdict.of(self.findings)

    @property
    def failed(self) -> bool:
        """A finding failed (exit 1); a warning (a credential still propagating) is no failure."""
        return any(f.status is Status.FAIL for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        report = self.report or ProbeReport()
        req = self.request
        return {
            "outcome": self.outcome,
            "pod": {"name": self.pod_name, "namespace": req.namespace,
                    "service_account": req.service_account, "image": req.image,
                    "kept": req.keep, **self.pod.to_json()},
            "container": _json(report.container),
            "env": _json(report.env),
            "credential": _json(report.credential),
            "tokens": {"service_account": _json(report.tokens.service_account),
                       "access_token": _json(report.tokens.access_token)},
            "permissions": _json(report.permissions),
            "checks": [c.to_json() for c in report.checks],
            "targets": self.targets.to_json(),
            "verdict": self.verdict.to_json(),
            "cleanup": list(self.cleanup),
        }
