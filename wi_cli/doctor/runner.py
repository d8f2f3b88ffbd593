"""Run the registered checks in layer order over shared facts; never stop at the first problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..core.errors import CredentialError, ExitCode, UsageError, WiError
from ..core.models import Finding, Status, assign_keys
from .chains import Chain, chains
from .facts import Context, FactError, Facts
from .registry import Check, Report, all_checks

BLOCKING = (Status.FAIL, Status.ERROR, Status.SKIP)
# facts without which doctor cannot say anything: their errors end the run (exit 3/4)
ESSENTIAL = ("kube_version", "azure_access")


def select(only: Iterable[str] = ()) -> list[Check]:
    checks = all_checks()
    only = list(only)
    if not only:
        return checks
    known = {c.id for c in checks}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise UsageError(f"Unknown check id: {', '.join(unknown)}.",
                         ["List them with 'wi doctor --list-checks'."])
    return [c for c in checks if c.id in only]


def _run_one(check: Check, facts: Facts, results: dict[str, list[Finding]]) -> list[Finding]:
    report = Report(check)
    blocked = [r for r in check.requires
               if r in results and any(f.status in BLOCKING for f in results[r])]
    if blocked:
        why = next(f.summary for f in results[blocked[0]] if f.status in BLOCKING)
        report.skip(f"Skipped: {blocked[0]} did not pass ({why.rstrip('.')}).")
        return report.made
    if check.live and not facts.ctx.scope.live:
        report.skip("Skipped: --no-live.")
        return report.made
    try:
        check.fn(report, **check.needs.values(facts))
    except FactError as exc:
        report.made.clear()
        unread = report._make(Status.ERROR, f"Could not check: {exc}")
        unread.unreadable = True
        unread.refused_credentials = isinstance(exc.cause, CredentialError)
    except Exception as exc:  # noqa: BLE001 - one broken check must not stop the others
        report.made.clear()
        report._make(Status.ERROR, f"The check itself failed: {type(exc).__name__}: {exc}")
    if not report.made:
        report.skip("Nothing to check: no service account in scope uses workload identity"
                    + (" with a resolvable identity." if check.layer in ("identity", "rbac",
                                                                         "live") else "."))
    return report.made


def run(ctx: Context, only: Iterable[str] = ()) -> tuple[list[Finding], Facts]:
    checks = select(only)
    facts = Facts(ctx)
    # a cluster named with --cluster must exist: else one error (exit 3), as bind says it
    essential = ESSENTIAL + (("aks",) if ctx.scope.cluster else ())
    facts.prefetch(essential)
    for name in essential:
        err = facts.error(name)
        if err is not None:
            if isinstance(err.cause, WiError):
                raise err.cause
            raise err
    facts.prefetch(n for c in checks for n in c.needs.names)
    results: dict[str, list[Finding]] = {}
    for check in checks:
        results[check.id] = _run_one(check, facts, results)
    findings = [f for made in results.values() for f in made]
    assign_keys(findings, ctx.kube_context)
    return findings, facts


def exit_code(findings: list[Finding]) -> ExitCode:
    """1 when a check found a problem in what it could read; else 3 when Azure or Kubernetes
    refused the credentials for some check (a 401 mid-run), 4 when they could not be read (no
    verdict there); 1 for a check that crashed; else 0."""
    if any(f.status == Status.FAIL for f in findings):
        return ExitCode.PROBLEMS
    unread = [f for f in findings if f.status == Status.ERROR and f.unreadable]
    if any(f.refused_credentials for f in unread):
        return ExitCode.CONFIG
    if unread:
        return ExitCode.REMOTE
    if any(f.status == Status.ERROR for f in findings):
        return ExitCode.PROBLEMS
    return ExitCode.OK



@dataclass
class Diagnosis:
    """What `wi doctor` found: the findings, the trust chain of each service account examined,
    and, when nothing in the namespace asked for uses workload identity, where something does."""

    findings: list[Finding]
    chains: list[Chain]
    elsewhere: dict[str, int]
    facts: Facts | None = field(default=None, repr=False)  # what was read (a fleet sums it up)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.findings)


def diagnose(ctx: Context, only: Iterable[str] = ()) -> Diagnosis:
    findings, facts = run(ctx, only)
    subjects = facts.get("subjects") or []
    return Diagnosis(findings, chains(findings, subjects), facts.get("elsewhere") or {}, facts)
