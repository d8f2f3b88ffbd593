"""Guard rails of doctor's registry: what a check or fact provider takes is a registered fact of
the type that fact has (so declared needs and types cannot drift), `--list-checks` lists every
check, and every check has a unit test of its healthy case and one per failure mode it declares
(the @covers marks in this folder, which also verify the test got that finding)."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

from checkrun import BASE, covers, derive, run
from values import NO_AKS, pod, service_account
from wi_cli.core.cloud import KNOWN_CLOUDS
from wi_cli.core.models import Status
from wi_cli.doctor.facts import PROVIDERS, Context
from wi_cli.doctor.facts.cluster import IssuerDocuments
from wi_cli.doctor.facts.webhook import WebhookInstall
from wi_cli.doctor.facts.workloads import EnvSources
from wi_cli.doctor.registry import REGISTRY, Report, all_checks

HERE = Path(__file__).parent
CHECKS = {c.id: c for c in all_checks()}


def _parameters(fn) -> list[tuple[inspect.Parameter, object]]:
    hints = typing.get_type_hints(fn)
    return [(p, hints.get(p.name)) for p in inspect.signature(fn).parameters.values()]


def _drift(fn, skip: str) -> list[str]:
    problems = []
    for p, hint in _parameters(fn):
        if p.name == skip:
            continue
        if p.name == "ctx":
            if hint is not Context:
                problems.append(f"ctx is annotated {hint}, not Context")
            continue
        provider = PROVIDERS.get(p.name)
        if provider is None:
            problems.append(f"{p.name}: no fact of that name")
            continue
        made = typing.get_type_hints(provider.fn).get("return")
        allowed = [made] + ([typing.Optional[made]] if p.default is not p.empty else [])
        if hint not in allowed:
            problems.append(f"{p.name}: {hint} but the fact is {made}")
    return problems


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_a_check_takes_registered_facts_of_their_type(check_id: str) -> None:
    check = CHECKS[check_id]
    (first, hint), *_ = _parameters(check.fn)
    assert first.name == "report" and hint is Report
    assert _drift(check.fn, skip="report") == []
    assert set(check.needs.names) <= set(PROVIDERS)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_fact_takes_registered_facts_of_their_type(name: str) -> None:
    provider = PROVIDERS[name]
    assert typing.get_type_hints(provider.fn).get("return") is not None, "no return annotation"
    assert _drift(provider.fn, skip="") == []


def test_no_fact_depends_on_itself() -> None:
    def closure(name: str, seen: tuple[str, ...] = ()) -> None:
        assert name not in seen, " -> ".join((*seen, name))
        for need in PROVIDERS[name].needs.names if name in PROVIDERS else ():
            closure(need, (*seen, name))
    for name in PROVIDERS:
        closure(name)


def test_list_checks_lists_every_registered_check(wi) -> None:
    run = wi("doctor", "--list-checks", "-o", "json")
    assert run.code == 0
    listed = {c["id"]: c for c in run.json["data"]["checks"]}
    assert set(listed) == set(REGISTRY) and len(listed) >= 34
    for check_id, check in REGISTRY.items():
        assert listed[check_id]["failure_modes"] == list(check.failure_modes)
        assert listed[check_id]["layer"] == check.layer


def _marks() -> dict[str, set[int | None]]:
    """check id -> the failure modes this folder's tests are marked for (None: healthy)."""
    found: dict[str, set[int | None]] = {}
    for path in sorted(HERE.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "covers":
                    check_id, *modes = [ast.literal_eval(a) for a in deco.args]
                    found.setdefault(check_id, set()).update(modes or [None])
    return found


def test_every_check_has_a_healthy_case_and_one_per_failure_mode() -> None:
    marks = _marks()
    missing = {check_id: sorted({None, *check.failure_modes} - marks.get(check_id, set()),
                                key=str)
               for check_id, check in CHECKS.items()}
    assert {k: v for k, v in missing.items() if v} == {}
    assert set(marks) <= set(CHECKS)


def test_covers_fails_a_test_that_does_not_get_its_finding() -> None:
    @covers("workload.client-id", 7)
    def healthy_marked_as_failure() -> None:
        run("workload.client-id", service_accounts=[service_account()], pods=[pod()])

    @covers("workload.client-id")
    def runs_another_check() -> None:
        run("workload.service-account", service_accounts=[service_account()], pods=[pod()])

    for test in (healthy_marked_as_failure, runs_another_check):
        with pytest.raises(AssertionError, match="is marked for workload.client-id"):
            test()


def test_covers_refuses_a_mode_the_check_does_not_declare() -> None:
    with pytest.raises(AssertionError, match="does not declare failure modes"):
        covers("workload.client-id", 12)


def test_drift_is_named() -> None:
    def drifted(report: Report, aks: str, nonsense: int, kube_version: str | None) -> None:
        pass

    assert [p.split(":")[0] for p in _drift(drifted, skip="report")] == [
        "aks", "nonsense", "kube_version"]


# What doctor reads through its adapters, for a cluster with nothing in it and no Azure access.
EMPTY = {
    "kube_version": "v1.31.2", "api_issuer": None, "azure_access": False, "aks": NO_AKS,
    "issuer_documents": IssuerDocuments(None), "webhook": WebhookInstall([]),
    "webhook_backends": {}, "env_source_keys": EnvSources({}), "identities": [], "fics": {},
    "role_assignments": {}, "role_names": {}, "minted_tokens": {}, "exchanges": {},
    "cloud": KNOWN_CLOUDS["azurecloud"], "elsewhere": {},
}


def test_the_empty_world_gives_every_fact_read_through_an_adapter() -> None:
    read = {n for n, p in PROVIDERS.items() if "ctx" in p.needs.names}
    assert read - set(BASE) - set(EMPTY) == set()
    assert set(derive(EMPTY)) >= set(PROVIDERS)


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_every_check_copes_with_an_empty_cluster_and_no_optional_fact(check_id: str) -> None:
    """Optional facts are left out (as when they could not be read): the check gets its default
    and still reports nothing alarming about a cluster that has nothing to check."""
    check = CHECKS[check_id]
    required = {n: v for n, v in EMPTY.items() if n not in check.needs.defaults}
    findings = run(check_id, **required)
    alarms = [f.summary for f in findings if f.status in (Status.FAIL, Status.WARN)]
    assert len(alarms) == (1 if check_id == "webhook.installed" else 0), alarms
