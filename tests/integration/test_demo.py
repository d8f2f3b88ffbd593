"""`wi demo`: the whole flow on the embedded lab, as a user runs it."""

import json

import pytest

from wi_cli.cli.app import main


def test_demo_runs_bind_doctor_probe_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "-o", "json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0, doc
    assert doc["command"] == "demo" and doc["status"] == "ok"
    steps = doc["data"]["steps"]
    assert [s["argv"][1] for s in steps] == ["bind", "doctor", "probe"]
    assert all(s["result"]["exit_code"] == 0 for s in steps)
    probe = steps[2]["result"]["data"]
    assert probe["tokens"]["service_account"]["claims"]["sub"] == "system:serviceaccount:demo:demo-app"
    assert "eyJ" not in out + err


def test_demo_leaves_the_callers_environment_alone(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "caller-subscription")
    main(["demo", "-o", "json"])
    capsys.readouterr()
    assert os.environ["AZURE_SUBSCRIPTION_ID"] == "caller-subscription"
    assert "WI_CLOUD" not in os.environ
