"""Reading the probe agent's report from a pod's log: typed values from good reports, clear
errors (never a traceback) from reports that are cut off, not JSON, too large or foreign, and
defaults for what is missing or of the wrong type. Plain data, no lab."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wi_cli.core.errors import ExitCode, WiError
from wi_cli.core.models import (
    MAX_REPORT_BYTES,
    PROBE_REPORT_PREFIX,
    ProbeReport,
    ProbeReportError,
    read_report,
)

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "probe" / "healthy-report.json"


def report() -> dict[str, Any]:
    """A report as the agent writes it (wi_cli/agent/agent.py, build_report): a healthy pod
    whose Key Vault check was refused."""
    return dict(json.loads(SAMPLE.read_text()))


def line(doc: Any) -> str:
    return PROBE_REPORT_PREFIX + (doc if isinstance(doc, str) else json.dumps(doc))


def test_a_good_report_reads_as_typed_values() -> None:
    got = read_report(f"starting\n{line(report())}\n")
    assert got is not None
    assert got.container is not None and got.container.uid == 65534
    sa = got.tokens.service_account
    assert sa is not None and sa.claims is not None
    assert sa.claims.audiences == ("api://AzureADTokenExchange",)
    assert sa.claims.kubernetes is not None and sa.claims.kubernetes.serviceaccount == "app"
    access = got.tokens.access_token
    assert access is not None and access.ok and access.claims and access.claims.oid == "o1"
    assert access.codes == (None,)
    assert got.permissions is not None
    assert got.permissions.scopes[0].data_actions == (
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",)
    check = got.checks[0]
    assert check.status == 403 and check.error and check.error.inner == "ForbiddenByRbac"
    assert got.to_json() == {**report()}  # what wi shows is what the agent said


def test_the_last_marked_line_is_the_report_whatever_else_is_logged() -> None:
    log = (f"warning: something\n{line({'schema': 'wi-probe/v1', 'elapsed_seconds': 1})}\n"
           f"noise\n{line({'schema': 'wi-probe/v1', 'elapsed_seconds': 2})}\ntrailing noise\n")
    got = read_report(log)
    assert got is not None and got.elapsed_seconds == 2
    assert read_report("no report here\nTraceback (most recent call last):\n") is None
    assert read_report("") is None


@pytest.mark.parametrize("text, words", [
    ('{"schema": "wi-probe/v1", "container": {"pod": "wi-pr', "cut off after"),
    ('{"schema": "wi-probe/v1", "env": {"missing": []}', "cut off after"),
    ("{broken}", "not JSON"),
    ("hello", "not JSON"),
    ("", "not JSON"),
    ('{"a": ' * 50000 + "1" + "}" * 50000, "not JSON"),  # nested past the parser's depth
    ("[1, 2]", "not a JSON object"),
    ('"a string"', "not a JSON object"),
    ('{"schema": "other/v9"}', "schema 'other/v9'"),
])
def test_an_unreadable_report_is_a_clear_error(text: str, words: str) -> None:
    with pytest.raises(ProbeReportError) as caught:
        read_report(f"{PROBE_REPORT_PREFIX}{text}\n")
    assert words in caught.value.message and caught.value.remediation
    assert isinstance(caught.value, WiError) and caught.value.exit_code == ExitCode.PROBLEMS


def test_an_oversized_report_is_refused_before_it_is_parsed() -> None:
    big = {"schema": "wi-probe/v1", "padding": "x" * MAX_REPORT_BYTES}
    with pytest.raises(ProbeReportError) as caught:
        read_report(line(big))
    assert "more than the" in caught.value.message
    assert read_report(line({"schema": "wi-probe/v1", "padding": "x" * 1000})) is not None


def test_missing_sections_are_absent_not_errors() -> None:
    got = read_report(line({"schema": "wi-probe/v1"}))
    assert got == ProbeReport(schema="wi-probe/v1")
    assert got.container is None and got.permissions is None and got.checks == ()
    assert got.tokens.access_token is None and got.missing == ()
    fatal = read_report(line({"schema": "wi-probe/v1", "fatal": "OSError: boom"}))
    assert fatal is not None and fatal.fatal == "OSError: boom"
    assert read_report(line({})) == ProbeReport()  # no schema: read as the agent's


def test_values_of_the_wrong_type_are_dropped() -> None:
    doc = {"schema": "wi-probe/v1", "checks": "x", "container": ["not", "an", "object"],
           "env": {"missing": ["AZURE_CLIENT_ID", 3], "variables": "x"},
           "tokens": {"access_token": {"ok": "yes", "attempts": True, "waited_seconds": "2",
                                       "codes": [1, None, "AADSTS70025"],
                                       "error": {"code": 70025, "description": "refused"}},
                      "service_account": {"claims": {"aud": [1, "api://x"], "exp": "soon"}}},
           "permissions": {"scopes": [{"scope": "/s", "actions": "*"}, "junk"]}}
    got = ProbeReport.from_json(doc)
    assert got.checks == () and got.container is None
    assert got.env is not None and got.env.missing == ("AZURE_CLIENT_ID",)
    assert got.env.variables == {}
    access = got.tokens.access_token
    assert access is not None and access.ok is False and access.attempts is None
    assert access.waited_seconds is None and access.codes == (None, "AADSTS70025")
    assert access.error is not None and access.error.code is None
    assert access.error.description == "refused"
    sa = got.tokens.service_account
    assert sa is not None and sa.claims is not None and sa.claims.audiences == ("api://x",)
    assert sa.claims.exp is None
    assert got.permissions is not None and [s.scope for s in got.permissions.scopes] == ["/s"]
    assert got.permissions.scopes[0].actions == ()
    assert ProbeReport.from_json("not a dict") == ProbeReport()
