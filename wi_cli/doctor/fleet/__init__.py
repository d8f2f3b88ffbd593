"""`wi doctor` over one context or many: one doctor run per kubeconfig context, concurrently
(at most ``parallel`` at once), each with its own Kubernetes clients and sharing the Azure reads
(:mod:`wi_cli.doctor.facts.cache`); then, for a fleet, the cross-cluster findings
(:mod:`.cross`). A plain ``wi doctor`` is this with one context and no cross-cluster step.

A context doctor cannot run on (unreachable, a credential plugin that fails, ...) is one `error`
finding and one `error` row; the others go on.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ...core.errors import ExitCode, WiError
from ...core.models import Finding, Status
from ...core.models.fleet import (
    ContextSummary,
    assign_fleet_keys,
    pin_contexts,
    summarize,
    unreachable,
)
from ...core.ports import Subscriptions, Web
from ..facts import Context, FactError
from ..runner import Diagnosis, diagnose, exit_code

DEFAULT_PARALLEL = 8


@dataclass
class FleetReads:
    """What the cross-cluster step reads: ARM across subscriptions, and issuer documents."""

    arm: Subscriptions | None
    web: Web
    subscriptions: list[str] | None = None  # --subscriptions; None: every one the operator sees
    default_subscription: str | None = None  # identities elsewhere are named by resource id


@dataclass
class ContextRun:
    context: str
    diagnosis: Diagnosis | None = None
    error: WiError | None = None
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    def fact(self, name: str) -> object:
        facts = self.diagnosis.facts if self.diagnosis is not None else None
        return facts.get(name) if facts is not None else None

    def summary(self) -> ContextSummary:
        aks = self.fact("aks")
        issuer = self.fact("cluster_issuer")
        cluster = getattr(getattr(aks, "cluster", None), "name", None)
        subjects = self.fact("subjects") or []
        return summarize(self.context, self.findings, cluster, getattr(issuer, "url", None),
                         len(subjects),  # type: ignore[arg-type]
                         self.error.message if self.error is not None else None, self.seconds)


@dataclass
class FleetDiagnosis:
    runs: list[ContextRun]
    fleet: list[Finding] = field(default_factory=list)  # the cross-cluster findings
    subscriptions: list[str] = field(default_factory=list)  # searched for AKS clusters

    @property
    def findings(self) -> list[Finding]:
        return [f for run in self.runs for f in run.findings] + self.fleet

    def exit_code(self, fail_on: str = "fail") -> ExitCode:
        return fleet_exit_code(self.findings, fail_on)

    def to_json(self) -> dict[str, Any]:
        """``data.contexts[]`` (each referring to its findings by key) and ``data.fleet``."""
        rows = []
        for run in self.runs:
            row = run.summary()
            error = run.error
            rows.append({
                "context": row.context, "cluster": row.cluster, "issuer": row.issuer,
                "status": row.status, "counts": row.counts,
                "error": ({"type": error.type, "message": error.message,
                           "remediation": list(error.remediation)} if error else None),
                "chains": [c.to_json() for c in run.diagnosis.chains] if run.diagnosis else [],
                "service_accounts": row.service_accounts,
                "worst": row.worst.key if row.worst is not None else None,
                "findings": [f.key for f in run.findings], "seconds": round(row.seconds, 3)})
        return {"contexts": rows, "fleet": {"subscriptions": list(self.subscriptions),
                                            "findings": [f.key for f in self.fleet]}}


def fleet_exit_code(findings: Sequence[Finding], fail_on: str = "fail") -> ExitCode:
    """doctor's exit code (1 a failure, 4 only unreadable sources, 0 ok); with ``--fail-on
    warn`` a warning is a problem too."""
    code = exit_code(list(findings))
    if code == ExitCode.OK and fail_on == "warn" and \
            any(f.status == Status.WARN for f in findings):
        return ExitCode.PROBLEMS
    return code


def _run_one(name: str, build: Callable[[str], Context], only: Sequence[str]) -> ContextRun:
    started = time.monotonic()
    run = ContextRun(name)
    try:
        run.diagnosis = diagnose(build(name), only)
        run.findings = run.diagnosis.findings
    except (WiError, FactError) as exc:
        cause = exc.cause if isinstance(exc, FactError) else exc
        run.error = cause if isinstance(cause, WiError) else WiError(str(exc))
    except Exception as exc:  # noqa: BLE001 - one context's crash must not end the others
        run.error = WiError(f"Internal error: {type(exc).__name__}: {exc}",
                            ["This is a bug in wi. Re-run with --debug and report it."])
    if run.error is not None:
        run.findings = [unreachable(name, run.error.message, run.error.remediation)]
    run.seconds = time.monotonic() - started
    return run


def diagnose_fleet(contexts: Sequence[str], build: Callable[[str], Context],
                   only: Iterable[str] = (), parallel: int = DEFAULT_PARALLEL,
                   reads: FleetReads | None = None) -> FleetDiagnosis:
    """Run doctor on every context (``build`` makes a context's :class:`Context`); with
    ``reads``, add the cross-cluster findings. A fleet's findings get fleet-wide keys."""
    only = list(only)
    workers = max(1, min(parallel, len(contexts)))
    if workers == 1:
        runs = [_run_one(name, build, only) for name in contexts]
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wi-context")
        try:
            runs = list(pool.map(lambda name: _run_one(name, build, only), contexts))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    result = FleetDiagnosis(runs)
    if reads is not None:
        from .cross import cross_cluster_findings

        result.fleet, result.subscriptions = cross_cluster_findings(runs, reads)
    if len(contexts) > 1 or reads is not None:
        assign_fleet_keys(result.findings)
        pin_contexts(result.findings)
    return result
