"""Plan, then write: a mutating command reads both sides, lists its writes as steps, shows them
(``--dry-run``), asks when it would change more than one trust, then applies them in order. When a
write fails, every step keeps its status (applied | failed | not-run | unchanged) and the error
carries them, so the output says what was applied and a re-run completes the job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import Interrupted, UsageError, WiError, sentence

APPLIED, FAILED, NOT_RUN, UNCHANGED = "applied", "failed", "not-run", "unchanged"
# what a step does; "keep" and "note" write nothing
WRITES = ("create", "update", "delete", "restart")


@dataclass
class Step:
    object: str  # Kubernetes or Azure kind: FederatedIdentityCredential, ServiceAccount, ...
    name: str
    action: str  # create | update | delete | restart | keep | note
    detail: str = ""
    trust: bool = False  # creates, changes or removes a federated credential
    run: Callable[[], Any] | None = field(default=None, repr=False, compare=False)
    status: str = NOT_RUN
    error: str | None = None

    @property
    def writes(self) -> bool:
        return self.action in WRITES

    def to_json(self) -> dict[str, Any]:
        out = {"object": self.object, "name": self.name, "action": self.action,
               "status": self.status, "detail": self.detail}
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Consent:
    """How the command may ask before changing several trusts: ``assume_yes`` (-y), else
    ``ask`` (None when nobody can answer: no terminal, or -o json)."""

    assume_yes: bool = False
    ask: Callable[[str], bool] | None = None


class StepsFailed(WiError):
    """A write failed midway: the original error's message, code and fix, plus every step."""

    def __init__(self, cause: WiError, steps: list[Step], data: dict[str, Any],
                 rerun: str) -> None:
        applied = [f"{s.object} {s.name}" for s in steps if s.status == APPLIED]
        skipped = [f"{s.object} {s.name}" for s in steps if s.status == NOT_RUN and s.writes]
        said = (f" Applied before it: {', '.join(applied)}." if applied
                else " Nothing was changed.")
        if skipped:
            said += f" Not run: {', '.join(skipped)}."
        remediation = list(cause.remediation)
        if applied:
            remediation.append(f"Run the same '{rerun}' command again to finish: it keeps "
                               "what is already done.")
        super().__init__(sentence(cause.message) + said, remediation)
        self.exit_code = cause.exit_code
        self.cause = cause
        self.steps = steps
        self.data = data

    @property
    def type(self) -> str:
        return self.cause.type


def confirm(steps: list[Step], consent: Consent, question: str,
            reasons: list[str] | None = None) -> None:
    """Ask before a plan that changes more than one trust (or for the ``reasons`` given);
    refuse, before any write, when nobody can answer."""
    why = list(reasons or [])
    trusts = [s for s in steps if s.trust and s.writes]
    if len(trusts) > 1:
        listing = "; ".join(f"{s.action} {s.object} {s.name}" for s in trusts)
        why.insert(0, f"it changes {len(trusts)} trusts ({listing})")
    if not why or consent.assume_yes:
        return
    if consent.ask is None:
        raise UsageError(f"This needs a confirmation: {'; and '.join(why)}. Nobody can confirm "
                         "it here (no terminal, or -o json).",
                         ["Check the plan with --dry-run, then pass -y to apply it."])
    if not consent.ask(f"{question} ({'; and '.join(why)})"):
        raise Interrupted("Cancelled: nothing was changed.",
                          ["Run the command again and answer yes, or pass -y."])


def apply(steps: list[Step], data: Callable[[], dict[str, Any]], rerun: str) -> None:
    """Run each write in order; no-op steps are ``unchanged``. On the first failure the rest are
    ``not-run`` and :class:`StepsFailed` carries them all."""
    for step in steps:
        if not step.writes or step.run is None:
            step.status = UNCHANGED
            continue
        try:
            step.run()
        except WiError as exc:
            step.status, step.error = FAILED, exc.message
            raise StepsFailed(exc, steps, data(), rerun) from None
        step.status = APPLIED
