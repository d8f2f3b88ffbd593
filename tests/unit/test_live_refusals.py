"""doctor's live check explains every AADSTS code Entra really returns with the same cause and
fix as `wi probe` (one table, wi_cli.core.aadsts), fed plain fact values: codes the lab cannot
provoke through doctor (wi always sends '/.default', azure-identity refuses a malformed tenant
before sending)."""

from __future__ import annotations

import pytest

from wi_cli.core.aadsts import explain
from wi_cli.core.cloud import resolve_cloud
from wi_cli.doctor.checks.identity import Binding
from wi_cli.doctor.checks.live import Exchange, Minted
from wi_cli.doctor.facts import Context, Facts, Scope
from wi_cli.doctor.registry import REGISTRY, Report, all_checks


def _run_token_exchange(code: str) -> dict:
    all_checks()
    check = REGISTRY["live.token-exchange"]
    facts = Facts(Context(Scope("demo"), None, None, resolve_cloud("AzureCloud")))
    b = Binding("demo", "app", "11111111-1111-1111-1111-111111111111", None, None)
    facts._values.update({  # the fact values doctor would have gathered
        "bindings": [b], "fics": {}, "cluster_issuer": {"url": None, "source": None},
        "minted_tokens": {("demo", "app"): Minted("not-shown", {}, {})},
        "exchanges": {("demo", "app"): Exchange("tenant", code=code,
                                                message=f"{code}: what Entra said")},
        "aks": {}})
    report = Report(check)
    check.fn(facts, report)
    (finding,) = report.made
    return finding.to_json()


@pytest.mark.parametrize("code", ["AADSTS7000272", "AADSTS7002138", "AADSTS501661",
                                  "AADSTS90061", "AADSTS1002012", "AADSTS900023"])
def test_doctor_explains_the_code_like_probe(code: str) -> None:
    finding = _run_token_exchange(code)
    cause, fix = explain(code)
    assert finding["status"] == "fail" and code in finding["summary"]
    assert cause in finding["summary"]
    assert finding["remediation"]["text"].startswith(fix.split(":")[0])
