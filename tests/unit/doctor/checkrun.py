"""Running one doctor check on plain values, as doctor would: :func:`run` computes the facts
doctor derives from others (``subjects``, ``bindings``, ``workload_view``, ``token_audience``,
``awi_webhooks``, ...) by calling the registered fact providers, so a check reads what doctor
would hand it; every finding it returns is audited (JSON-ready, no token, a fix for every
problem, no shell-special placeholder in a command). :func:`covers` marks (and verifies) the
unit test of a check's healthy case or of its failure modes."""

from __future__ import annotations

import functools
import inspect
import json
import re
from typing import Any, Callable, TypeVar

from values import NS, SUBSCRIPTION, TOKEN, namespace
from wi_cli.core.config import Settings
from wi_cli.core.models import Finding, Status
from wi_cli.doctor.facts import PROVIDERS, Scope
from wi_cli.doctor.registry import REGISTRY, Report, all_checks

all_checks()  # registers every check and fact provider

# Facts doctor always has in a run: what it was asked to look at, and the Kubernetes lists of an
# empty namespace. Everything else a check needs is given by the test or derived from what is.
BASE: dict[str, Callable[[], Any]] = {
    "scope": lambda: Scope(NS),
    "settings": lambda: Settings(subscription=SUBSCRIPTION),
    "service_accounts": list, "pods": list, "deployments": list, "services": list,
    "namespaces": lambda: [namespace(NS)],
}
RUNS: list[tuple[str, list[Finding]]] = []  # every run() in this process, for @covers


def _pure() -> dict[str, Any]:
    """The fact providers computed from other facts only (no API call)."""
    return {name: p for name, p in PROVIDERS.items() if "ctx" not in p.needs.names}


def derive(given: dict[str, Any]) -> dict[str, Any]:
    """``given`` plus every fact doctor computes from it, by calling the providers in dependency
    order. A provider runs when its required facts are known; an optional one that is not known
    gets its default, as when doctor could not read it. Given values are never recomputed."""
    known = {name: make() for name, make in BASE.items() if name not in given}
    known.update(given)
    pending = {n: p for n, p in _pure().items() if n not in known}
    while True:
        ready = [n for n, p in pending.items()
                 if all(need in known or (need in p.needs.defaults and need not in pending)
                        for need in p.needs.names)]
        if not ready:
            return known
        for name in ready:
            provider = pending.pop(name)
            known[name] = provider.fn(**{need: known[need] for need in provider.needs.names
                                         if need in known})


def run(check_id: str, **given: Any) -> list[Finding]:
    """The findings of one check over these facts (and those derived from them). A fact the check
    takes with a default and that is neither given nor derivable gets that default."""
    check = REGISTRY[check_id]
    facts = derive(given)
    missing = [n for n in check.needs.names if n not in facts and n not in check.needs.defaults]
    assert not missing, f"{check_id} needs {missing}: give them (or what they derive from)"
    report = Report(check)
    check.fn(report, **{n: facts[n] for n in check.needs.names if n in facts})
    for f in report.made:
        audit(f)
    RUNS.append((check_id, list(report.made)))
    return report.made


def audit(f: Finding) -> None:
    """What every finding of every check must be, whatever the test asserts about it."""
    text = json.dumps(f.to_json())  # JSON output must not need a custom encoder
    assert TOKEN not in text, f"a token reached a finding: {f.summary}"
    assert f.summary.strip()
    if f.status in (Status.FAIL, Status.WARN):
        assert f.remediation is not None and f.remediation.text.strip(), f"no fix: {f.summary}"
    for command in f.remediation.commands if f.remediation else []:
        assert "<" not in command and ">" not in command, f"shell-special placeholder: {command}"
        assert command == command.strip() and "\n" not in command


F = TypeVar("F", bound=Callable[..., Any])


def covers(check_id: str, *modes: int) -> Callable[[F], F]:
    """Marks the test as the healthy case of ``check_id`` (no modes: it must get an ok finding
    of that check) or as its case for these failure modes (it must get a fail or warn).
    test_check_registry reads the marks to require both for every check and mode."""
    check = REGISTRY[check_id]
    unknown = set(modes) - set(check.failure_modes)
    assert not unknown, f"{check_id} does not declare failure modes {sorted(unknown)}"
    wanted = {Status.FAIL, Status.WARN} if modes else {Status.OK}

    def mark(test: F) -> F:
        @functools.wraps(test)
        def verified(*args: Any, **kwargs: Any) -> Any:
            start = len(RUNS)
            result = test(*args, **kwargs)
            made = [f for cid, fs in RUNS[start:] if cid == check_id for f in fs]
            assert any(f.status in wanted for f in made), (
                f"{test.__name__} is marked for {check_id} {list(modes)} but got "
                f"{[(f.status.value, f.summary) for f in made]}")
            return result
        verified.__signature__ = inspect.signature(test)  # type: ignore[attr-defined]
        return verified  # type: ignore[return-value]
    return mark


def one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [(f.status.value, f.summary) for f in findings]
    return findings[0]


def commands(f: Finding) -> list[str]:
    return list(f.remediation.commands) if f.remediation else []


def seconds_after(text: str, words: str) -> int:
    """The seconds a summary gives right after ``words`` ("created 40 s ago"): ages are measured
    from the clock when the check runs, so tests compare them with a margin, never exactly."""
    m = re.search(re.escape(words) + r"(-?\d+) s\b", text)
    assert m, f"no '{words}N s' in {text!r}"
    return int(m.group(1))
