import json

from wi_cli.core.errors import AzureForbidden, ExitCode
from wi_cli.core.models import CommandResult, Evidence, Finding, Remediation, Status
from wi_cli.render import jsonout
from wi_cli.core.redact import redact, redact_text

# built at run time: no literal JWT in the repository
FAKE_JWT = ".".join(["eyJ" + "a" * 20, "eyJ" + "b" * 30, "c" * 40])


def test_finding_shape_is_pinned() -> None:
    f = Finding("fic.issuer", "FIC issuer", "identity", Status.FAIL, "issuer differs",
                Evidence("https://a/", "https://a"), Remediation("re-bind", ["wi bind sa id"]),
                "https://learn.microsoft.com/x")
    doc = json.loads(jsonout.dumps(jsonout.envelope("doctor", status="problems", exit_code=1,
                                                    findings=[f])))
    (finding,) = doc["findings"]
    assert list(finding) == ["key", "id", "title", "layer", "status", "summary", "evidence",
                             "remediation", "docs", "target"]
    assert list(finding["target"]) == ["context", "namespace", "service_account", "identity",
                                       "pod", "workload", "issuer"]
    assert finding["evidence"] == {"expected": "https://a/", "actual": "https://a"}
    assert finding["remediation"] == {"text": "re-bind", "commands": ["wi bind sa id"]}
    assert finding["status"] == "fail"


def test_result_status_follows_exit_code() -> None:
    assert CommandResult("doctor").status == "ok"
    assert CommandResult("doctor", exit_code=ExitCode.PROBLEMS).status == "problems"


def test_error_envelope_carries_type_message_remediation() -> None:
    e = AzureForbidden("no permission", ["ask an Owner"], status=403, code="AuthorizationFailed")
    doc = jsonout.envelope("bind", status="error", exit_code=e.exit_code, errors=[e])
    assert doc["errors"] == [{"type": "AzureForbidden", "message": "no permission",
                              "remediation": ["ask an Owner"]}]
    assert doc["exit_code"] == 4


def test_tokens_never_leave_through_the_json_renderer() -> None:
    doc = jsonout.envelope("probe", status="ok", exit_code=0,
                           data={"nested": [{"note": f"got {FAKE_JWT} back"}],
                                 "form": "client_secret=abcdefghijkl&x=1"})
    text = jsonout.dumps(doc)
    assert FAKE_JWT not in text and "abcdefghijkl" not in text
    assert "<redacted JWT>" in text


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact_text("system:serviceaccount:demo:app") == "system:serviceaccount:demo:app"
    assert redact({"n": 1, "ok": True}) == {"n": 1, "ok": True}


def test_enums_print_their_value_and_pretty_is_for_terminals() -> None:
    from wi_cli.core.models import Status

    doc = jsonout.envelope("doctor", status="ok", exit_code=0,
                           data={"s": Status.WARN, "nested": [(Status.OK, FAKE_JWT)]})
    assert json.loads(jsonout.dumps(doc))["data"] == {"s": "warn",
                                                      "nested": [["ok", "<redacted JWT>"]]}
    assert "\n" not in jsonout.dumps(doc, pretty=False)
    assert jsonout.dumps(doc).count("\n") > 5
