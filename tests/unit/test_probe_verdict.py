"""What `wi probe` concludes, on plain data (no lab, no pod): the findings for each way the chain
can break, the verdict's closing lines built from them, the exit they imply, and the view."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from wi_cli.core.models import (
    PROPAGATION_CODES,
    ArmView,
    CommandResult,
    FederatedCredential,
    Identity,
    PodRun,
    ProbeFinding,
    ProbeOutcome,
    ProbeReport,
    ProbeRequest,
    ProbeTargets,
    ProbeVerdict,
    ResourceId,
    Status,
)
from wi_cli.core.probe import verdict
from wi_cli.render import console, jsonout
from wi_cli.render import probe as view

REQ = ProbeRequest("demo", "app")
NOW = 1_800_000_000.0
ISSUER = "https://issuer.example/t/g/"
SUBJECT = "system:serviceaccount:demo:app"
IDENTITY = ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/id-app")
KV = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "probe" / "healthy-report.json"


def healthy_report() -> dict[str, Any]:
    """The agent's report of a healthy pod whose Key Vault check was refused (403)."""
    return dict(json.loads(SAMPLE.read_text()))


def _at(age: float | None) -> dt.datetime | None:
    return None if age is None else dt.datetime.fromtimestamp(NOW - age, tz=dt.timezone.utc)


def arm(age: float | None, *, subject: str = SUBJECT,
        identity_age: float | None = 86400) -> ArmView:
    """ARM shows the identity and one credential for ``subject``, ``age`` seconds old."""
    ident = Identity(ResourceId.parse(IDENTITY), "c1", "p1", "t1", created_at=_at(identity_age))
    credential = FederatedCredential("app", ISSUER, subject, ("api://AzureADTokenExchange",),
                                     created_at=_at(age))
    return ArmView(True, ident, (credential,), NOW)


def conclude(doc: dict[str, Any], view_of_arm: ArmView | None = None,
             targets: ProbeTargets | None = None) -> tuple[ProbeReport, list[ProbeFinding]]:
    return verdict.conclude(ProbeReport.from_json(doc), REQ, targets or ProbeTargets(),
                            view_of_arm or ArmView(), "Succeeded")


def refused_report(code: str) -> dict[str, Any]:
    doc = healthy_report()
    doc["tokens"]["service_account"]["claims"].update(iss=ISSUER, sub=SUBJECT)
    doc["tokens"]["access_token"] = {"ok": False, "waited_seconds": 10.0, "attempts": 6,
                                     "error": {"code": code, "description": f"{code}: no"}}
    doc["permissions"], doc["checks"] = None, []
    return doc


def by_id(findings: list[ProbeFinding]) -> dict[str, ProbeFinding]:
    return {f.id: f for f in findings}


def outcome_of(doc: dict[str, Any], **kw: Any) -> ProbeOutcome:
    report, findings = conclude(doc, **kw)
    return ProbeOutcome(REQ, "wi-probe-1", "completed", report, ProbeTargets(), findings,
                        PodRun("Succeeded", "Completed", exit_code=0))


# -- the chain ------------------------------------------------------------------------------------

def test_a_healthy_report_is_every_step_ok() -> None:
    doc = healthy_report()
    doc["checks"] = []
    _, findings = conclude(doc)
    assert [f.id for f in findings] == [
        "probe.pod-admitted", "probe.pod-started", "probe.report", "probe.injection",
        "probe.client-id", "probe.token-file", "probe.token-exchange",
        "probe.credential-chain", "probe.token-expiry"]
    assert all(f.status is Status.OK for f in findings)
    v = ProbeVerdict.of(findings)
    assert v.ok and v.status is Status.OK and v.causes == v.fixes == v.warnings == ()
    assert v.summary == ("Workload identity works: the pod got an access token as id-app "
                         "(object id o1).")


def test_a_pod_the_webhook_did_not_mutate_stops_the_chain() -> None:
    doc = healthy_report()
    doc["env"]["missing"] = ["AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"]
    _, findings = conclude(doc)
    found = by_id(findings)
    assert found["probe.injection"].status is Status.FAIL
    assert "probe.token-exchange" not in found and "probe.client-id" not in found
    v = ProbeVerdict.of(findings)
    assert not v.ok and "did not mutate the pod" in v.summary
    assert any("wi doctor -n demo --service-account app" in f for f in v.fixes)


def test_a_missing_client_id_names_the_annotation_and_the_bind_command() -> None:
    doc = healthy_report()
    doc["env"]["missing"] = ["AZURE_CLIENT_ID"]
    _, findings = conclude(doc)
    failed = by_id(findings)["probe.client-id"]
    assert failed.status is Status.FAIL and "azure.workload.identity/client-id" in failed.summary
    assert failed.remediation is not None
    assert failed.remediation.commands == ["wi bind app IDENTITY -n demo"]


def test_an_unreadable_token_file_fails_with_its_mode() -> None:
    doc = healthy_report()
    doc["tokens"]["service_account"].update(readable=False, error="cannot read the token file: "
                                                                  "Permission denied")
    _, findings = conclude(doc)
    v = ProbeVerdict.of(findings)
    assert not v.ok and "unusable" in v.summary and "mode 0o640" in v.causes[0]


def test_an_exchange_without_an_answer_points_at_egress() -> None:
    doc = refused_report("AADSTS70025")
    doc["tokens"]["access_token"]["error"] = {"code": None, "error": "no_answer",
                                              "description": "URLError: timed out"}
    v = ProbeVerdict.of(conclude(doc)[1])
    assert v.status is Status.FAIL
    assert v.summary == "The token exchange did not complete: URLError: timed out."
    assert "AZURE_AUTHORITY_HOST" in v.fixes[0]


def test_a_fatal_agent_error_is_a_failed_report() -> None:
    _, findings = conclude({"schema": "wi-probe/v1", "fatal": "OSError: boom"})
    assert [f.id for f in findings][-1] == "probe.report"
    v = ProbeVerdict.of(findings)
    assert v.summary == "The agent failed before it could report." and v.causes == (
        "OSError: boom",)


def test_a_report_with_nothing_in_it_fails_without_a_traceback() -> None:
    v = ProbeVerdict.of(conclude({})[1])
    assert v.status is Status.FAIL and "did not complete" in v.summary


# -- the exchange, refused ------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["AADSTS70025", "AADSTS700211", "AADSTS700213",
                                  "AADSTS7002138", "AADSTS700212", "AADSTS70021"])
def test_a_young_exact_credential_refused_is_a_warning(code: str) -> None:
    report, findings = conclude(refused_report(code), arm(40))
    v = ProbeVerdict.of(findings)
    assert v.status is Status.WARN and v.ok and code in v.summary
    assert "created 40 s ago" in v.summary and "Re-run in a few minutes" in v.summary
    assert "(still after 10 s of retries)" in v.summary
    assert not any("wi bind" in f for f in v.fixes)
    access = report.tokens.access_token
    assert access and access.error and access.error.explanation
    assert "propagate" in access.error.explanation.cause
    assert "wi bind" not in access.error.explanation.fix
    assert not any(f.status is Status.FAIL for f in findings)


def test_unknown_age_is_a_warning_and_an_old_credential_a_failure() -> None:
    unknown = ProbeVerdict.of(conclude(refused_report("AADSTS700213"), arm(None))[1])
    assert unknown.status is Status.WARN and "age unknown" in unknown.summary
    old = ProbeVerdict.of(conclude(refused_report("AADSTS700213"), arm(3600))[1])
    assert old.status is Status.FAIL and old.ok is False
    other = ProbeVerdict.of(conclude(refused_report("AADSTS700213"),
                                     arm(40, subject="system:serviceaccount:demo:other"))[1])
    assert other.status is Status.FAIL
    young_identity = ProbeVerdict.of(conclude(refused_report("AADSTS700016"),
                                              arm(None, identity_age=20))[1])
    assert young_identity.status is Status.WARN and "identity id-app" in young_identity.summary


def test_without_arm_a_matching_code_says_it_may_be_propagation() -> None:
    v = ProbeVerdict.of(conclude(refused_report("AADSTS700213"))[1])
    assert v.status is Status.FAIL
    assert any("re-run in a few minutes" in c for c in v.causes)
    assert v.summary == "Entra refused the token exchange: AADSTS700213."


@pytest.mark.parametrize("code,cause", [
    ("AADSTS7000272", "not in the issuer's published JWKS"),
    ("AADSTS7002138", "only in case"),
    ("AADSTS501661", "OIDC discovery document"),
    ("AADSTS90061", "OIDC discovery document"),
    ("AADSTS1002012", "'/.default'"),
    ("AADSTS900023", "neither a tenant GUID nor a valid domain"),
])
def test_probe_explains_every_code_entra_really_returns(code: str, cause: str) -> None:
    report, findings = conclude(refused_report(code), arm(3600))
    v = ProbeVerdict.of(findings)
    access = report.tokens.access_token
    assert access and access.error and access.error.explanation
    assert v.status is Status.FAIL and cause in v.causes[0]
    assert cause in access.error.explanation.cause and access.error.explanation.fix in v.fixes


def test_the_agent_retries_only_what_may_be_propagating() -> None:
    matching = sorted(PROPAGATION_CODES)
    assert ArmView().retry_codes(SUBJECT) is None  # ARM unreadable: the agent's default
    assert ArmView(True).retry_codes(SUBJECT) is None  # identity elsewhere: cannot tell
    assert arm(40).retry_codes(SUBJECT) == matching == arm(None).retry_codes(SUBJECT)
    assert arm(3600).retry_codes(SUBJECT) == []
    assert arm(40, subject="system:serviceaccount:demo:other").retry_codes(SUBJECT) == []
    assert arm(3600, identity_age=30).retry_codes(SUBJECT) == ["AADSTS700016"]


# -- data-plane checks and advice ----------------------------------------------------------------

def test_a_forbidden_data_plane_check_fails_with_the_role_to_assign() -> None:
    targets = ProbeTargets(keyvault_id=KV, keyvault_uri="https://kv.example/")
    report, findings = conclude(healthy_report(), targets=targets)
    check = by_id(findings)["probe.data-plane.keyvault"]
    assert check.status is Status.FAIL and check.kind == "check"
    assert check.remediation is not None and check.remediation.commands == [
        'az role assignment create --role "Key Vault Secrets User" --assignee-object-id o1 '
        f"--assignee-principal-type ServicePrincipal --scope {KV}"]
    v = ProbeVerdict.of(findings)
    assert v.status is Status.FAIL and not v.ok  # the access asked about is missing: exit 1
    assert v.summary.startswith("Workload identity works")
    assert v.summary.endswith(" 1 data-plane check(s) failed.")
    assert "ForbiddenByRbac" in v.causes[0] and "Key Vault Secrets User" in v.fixes[0]
    assert report.checks[0].explanation is not None


@pytest.mark.parametrize("status, error, words", [
    (401, {"code": "Unauthorized", "message": "bad audience"}, "refused the access token"),
    (404, {"code": "VaultNotFound"}, "does not exist"),
    (None, {"code": "AADSTS70025", "message": "no"}, "no federated"),
    (None, {"code": "Unreachable", "message": "timed out"}, "check failed: unreachable"),
])
def test_each_data_plane_failure_is_explained(status: Any, error: dict[str, Any],
                                              words: str) -> None:
    doc = healthy_report()
    doc["checks"][0].update(status=status, error=error)
    report, _ = conclude(doc)
    explanation = report.checks[0].explanation
    assert explanation is not None and words in explanation.cause.lower(), explanation


def test_a_shadowing_secret_and_an_expiring_token_are_warnings_that_fail_nothing() -> None:
    doc = healthy_report()
    doc["checks"] = []
    doc["credential"].update(first="EnvironmentCredential (client secret)",
                             shadows_workload_identity=True)
    doc["tokens"]["service_account"]["expires_in_seconds"] = 100
    _, findings = conclude(doc)
    v = ProbeVerdict.of(findings)
    assert v.ok and v.status is Status.OK
    assert v.warnings == (
        "DefaultAzureCredential would use EnvironmentCredential (client secret) first: it "
        "shadows workload identity. Remove AZURE_CLIENT_SECRET (or the certificate/password "
        "variables) from the pod, or use WorkloadIdentityCredential.",
        "The projected token expires in 100s.")
    assert {f.id for f in findings if f.status is Status.WARN} == {"probe.credential-chain",
                                                                    "probe.token-expiry"}


# -- the pod --------------------------------------------------------------------------------------

def test_pod_level_failures() -> None:
    refused = ProbeVerdict.of(verdict.refused(REQ, "admission webhook denied the request: x"))
    assert refused.summary == "The cluster refused to admit the probe pod."
    assert refused.causes == ("admission webhook denied the request: x",)
    stuck = ProbeVerdict.of(verdict.never_started("ErrImagePull", "pull failed",
                                                  ["Failed to pull image: no such host"]))
    assert stuck.summary == "The probe pod never started: ErrImagePull."
    assert stuck.causes == ("pull failed", "Failed to pull image: no such host")
    silent = ProbeVerdict.of(verdict.no_report("Failed", ["a", "b", "c", "d"], "Error"))
    assert silent.summary == "The probe pod ended (Failed) without a report."
    assert silent.causes == ("b", "c", "d") and "python3" in silent.fixes[0]
    assert ProbeVerdict.of(verdict.no_report("Failed", [], None)).causes == ("no output",)
    garbled = ProbeVerdict.of(verdict.unreadable_report("Succeeded", "cut off", ["re-run"]))
    assert "cannot read" in garbled.summary and garbled.causes == ("cut off",)
    for findings in (verdict.refused(REQ, "x"), verdict.no_report("Failed", [], None)):
        assert findings[-1].status is Status.FAIL


# -- what leaves: JSON and the view ---------------------------------------------------------------

def test_the_json_keeps_every_data_field_and_carries_the_findings() -> None:
    outcome = outcome_of(healthy_report())
    data = outcome.to_json()
    assert list(data) == ["outcome", "pod", "container", "env", "credential", "tokens",
                          "permissions", "checks", "targets", "verdict", "cleanup"]
    assert list(data["verdict"]) == ["ok", "status", "summary", "causes", "fixes", "warnings"]
    assert data["pod"]["exit_code"] == 0 and data["checks"][0]["explanation"]["fix"]
    doc = json.loads(jsonout.dumps(jsonout.envelope("probe", status="ok", exit_code=0,
                                                    data=outcome, findings=outcome.findings)))
    assert doc["data"] == json.loads(json.dumps(data))
    ids = [f["id"] for f in doc["findings"]]
    assert len(ids) == len(set(ids)) and "probe.token-exchange" in ids
    assert all({"causes", "remediation", "status"} <= set(f) for f in doc["findings"])
    assert outcome.failed  # its Key Vault check was refused (403): exit 1


def test_the_view_prints_every_table_and_the_closing_lines(capsys: Any) -> None:
    doc = healthy_report()
    doc["credential"]["shadows_workload_identity"] = True
    outcome = outcome_of(doc)
    outcome.cleanup.append("Could not delete pod demo/wi-probe-1: gone")
    console.reset()
    view.show(CommandResult("probe", outcome, list(outcome.findings), view="probe"))
    out, err = capsys.readouterr()
    for title in ("Container", "Service-account token", "Entra access token", "Permissions",
                  "Effective permissions", "Data-plane checks"):
        assert title in out
    assert "✗ Workload identity works" in out and "1 data-plane check(s) failed" in out
    assert "403 Forbidden" in out and "! DefaultAzureCredential would use" in out
    assert "Could not delete pod" in err


def test_a_token_in_the_pod_log_is_never_printed(capsys: Any) -> None:
    jwt = ".".join(["eyJ" + "a" * 20, "eyJ" + "b" * 30, "c" * 40])  # built at run time
    findings = verdict.no_report("Failed", [f"token={jwt}"], "Error")
    outcome = ProbeOutcome(REQ, "wi-probe-1", "failed", None, ProbeTargets(), findings,
                           PodRun("Failed", "Error", log_tail=(f"token={jwt}",)))
    console.reset()
    view.show(CommandResult("probe", outcome, findings, view="probe"))
    doc = jsonout.dumps(jsonout.envelope("probe", status="problems", exit_code=1, data=outcome,
                                         findings=findings))
    out, err = capsys.readouterr()
    assert "cause: token=" in out and jwt not in out + err + doc


def test_the_view_of_a_refused_pod_is_its_closing_lines(capsys: Any) -> None:
    outcome = ProbeOutcome(REQ, "wi-probe-1", "refused", None, ProbeTargets(),
                           verdict.refused(REQ, "denied"), PodRun(None, "AdmissionRefused"))
    console.reset()
    view.show(CommandResult("probe", outcome, list(outcome.findings), view="probe"))
    out, _ = capsys.readouterr()
    assert out.splitlines()[0] == "✗ The cluster refused to admit the probe pod."
    assert "cause: denied" in out and "wi doctor -n demo --service-account app" in out


def test_a_report_with_odd_values_still_renders(capsys: Any) -> None:
    doc = copy.deepcopy(healthy_report())
    doc["tokens"]["access_token"] = {"ok": False, "waited_seconds": 2, "codes": [None, 5]}
    doc["container"] = {}
    outcome = outcome_of(doc)
    console.reset()
    view.show(CommandResult("probe", outcome, list(outcome.findings), view="probe"))
    out, _ = capsys.readouterr()
    assert "✗ The token exchange did not complete: no answer." in out
    assert "? attempts over 2 s" in out


# -- filled-in fixes and why the role list is empty --------------------------------------------------

@pytest.mark.parametrize("view_of_arm, identity", [(None, "c1-from-the-pod"), ("arm", "id-app")])
def test_a_refusal_fix_names_this_service_account_and_identity(view_of_arm, identity) -> None:
    doc = refused_report("AADSTS700213")
    doc["env"]["variables"]["AZURE_CLIENT_ID"] = "c1-from-the-pod"
    known = arm(3600) if view_of_arm else None
    _, findings = conclude(doc, known)
    exchange = by_id(findings)["probe.token-exchange"]
    assert exchange.status is Status.FAIL
    assert f"wi bind app {identity} -n demo" in " ".join(exchange.fixes)
    assert not any(word in " ".join(exchange.fixes) for word in (" SA ", " NS", "IDENTITY"))


def test_no_shell_special_placeholder_in_any_explanation() -> None:
    from wi_cli.core.aadsts import _TABLE

    for cause, fix in _TABLE.values():
        assert "<" not in fix and ">" not in fix, fix


def _permissions(**doc: Any) -> Any:
    from wi_cli.core.models import Permissions

    return Permissions.from_json({"subscriptions": [{"id": "s"}], "role_assignments": [],
                                  **doc})


def test_an_empty_role_list_says_why() -> None:
    refused = _permissions(scopes=[{"scope": "/subscriptions/s", "role_assignments_error": {
        "status": 403, "code": "AuthorizationFailed"}}])
    why = refused.why_no_role_assignments(operator_named_scopes=True)
    assert why == ("The identity may not read role assignments at /subscriptions/s (403 "
                   "AuthorizationFailed); its roles there are not visible to it.")
    none = _permissions(scopes=[{"scope": "/subscriptions/s"}])
    assert "has no role assignment at /subscriptions/s" in \
        none.why_no_role_assignments(operator_named_scopes=True)
    blind = _permissions(subscriptions=[], scopes=[])
    said = blind.why_no_role_assignments(operator_named_scopes=False)
    assert said.startswith("The identity sees no subscription") and "AZURE_SUBSCRIPTION_ID" in said
    assert healthy_permissions_are_silent()


def healthy_permissions_are_silent() -> bool:
    perms = ProbeReport.from_json(healthy_report()).permissions
    return perms is not None and perms.why_no_role_assignments(False) is None


def test_the_view_prints_why_the_role_list_is_empty(capsys: Any) -> None:
    doc = healthy_report()
    doc["permissions"]["role_assignments"] = []
    doc["permissions"]["scopes"] = [{"scope": "/subscriptions/s", "role_assignments_error": {
        "status": 403, "code": "AuthorizationFailed"}}]
    outcome = outcome_of(doc)
    console.reset()
    view.show(CommandResult("probe", outcome, list(outcome.findings), view="probe"))
    out = " ".join(capsys.readouterr().out.split())
    assert "(none visible)" in out
    assert "The identity may not read role assignments at /subscriptions/s" in out
