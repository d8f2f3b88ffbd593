"""doctor's live check explains every AADSTS code Entra really returns with the same cause and
fix as `wi probe` (one table, wi_cli.core.aadsts), fed plain fact values: codes the lab cannot
provoke through doctor (wi always sends '/.default', azure-identity refuses a malformed tenant
before sending)."""

from __future__ import annotations

import pytest

from wi_cli.core.aadsts import explain
from wi_cli.doctor.facts import Scope
from wi_cli.doctor.facts.identities import Binding
from wi_cli.doctor.facts.live import Exchange, Minted
from wi_cli.doctor.facts.webhook import Audience
from wi_cli.doctor.registry import REGISTRY, Report, all_checks


def _run_token_exchange(code: str) -> dict:
    all_checks()
    check = REGISTRY["live.token-exchange"]
    b = Binding("demo", "app", "11111111-1111-1111-1111-111111111111", None, None)
    report = Report(check)
    check.fn(report, bindings=[b], minted_tokens={b.key: Minted("not-shown", {}, {})},
             exchanges={b.key: Exchange("tenant", code=code,
                                        message=f"{code}: what Entra said")},
             token_audience=Audience("api://AzureADTokenExchange", "default"),
             scope=Scope("demo"), service_accounts_by_key={})
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
