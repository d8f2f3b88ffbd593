"""`wi demo`: the whole flow on the embedded lab, as a user runs it."""

import pytest


def test_demo_runs_bind_doctor_probe_end_to_end(wi) -> None:
    run = wi("demo", "-o", "json")  # the fixture holds the run to "no raw JWT printed"
    doc = run.json
    assert run.code == 0, doc
    assert doc["command"] == "demo" and doc["status"] == "ok"
    steps = doc["data"]["steps"]
    assert [s["argv"][1] for s in steps] == ["bind", "doctor", "probe"]
    assert all(s["result"]["exit_code"] == 0 for s in steps)
    probe = steps[2]["result"]["data"]
    assert probe["tokens"]["service_account"]["claims"]["sub"] == "system:serviceaccount:demo:demo-app"


def test_demo_leaves_the_callers_environment_alone(wi, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "caller-subscription")
    wi("demo", "-o", "json")
    assert os.environ["AZURE_SUBSCRIPTION_ID"] == "caller-subscription"
    assert "WI_CLOUD" not in os.environ
