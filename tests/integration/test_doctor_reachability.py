"""`wi doctor` when it cannot reach what it needs: one sentence, exit 3 or 4, no findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from support import Run, operator_env, seeded_lab, set_env


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("reach")) as world:
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


def doctor_json(wi, *argv: str) -> Run:
    return wi("doctor", "-n", "demo", *argv, "-o", "json")


def test_the_bound_lab_is_healthy(world, env, wi) -> None:
    run = doctor_json(wi)
    assert run.code == 0, [f for f in run.json["findings"] if f["status"] in ("fail", "error")]


def test_missing_kubeconfig_is_a_configuration_error(world, env, wi, tmp_path: Path) -> None:
    run = doctor_json(wi, "--kubeconfig", str(tmp_path / "nope"))
    doc = run.json
    assert run.code == 3 and doc["status"] == "error" and doc["findings"] == []
    assert "No kubeconfig found" in doc["errors"][0]["message"]


def test_unreachable_api_server_is_exit_4(world, env, wi, tmp_path: Path) -> None:
    dead = tmp_path / "dead"
    dead.write_text(Path(world["kubeconfig"]).read_text().replace(
        world["seeded"].cluster.url, "https://127.0.0.1:9"))
    run = doctor_json(wi, "--kubeconfig", str(dead))
    assert run.code == 4 and "Could not reach" in run.json["errors"][0]["message"]


def test_wrong_operator_secret_is_exit_3_without_the_secret(world, env, wi, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "definitely-wrong-secret")
    run = doctor_json(wi)
    assert run.code == 3 and "AADSTS7000215" in run.json["errors"][0]["message"]
    assert "definitely-wrong-secret" not in run.out + run.err


def test_unknown_check_id_is_a_usage_error(world, env, wi) -> None:
    run = doctor_json(wi, "--check", "no.such-check")
    assert run.code == 2 and "wi doctor --list-checks" in run.json["errors"][0]["remediation"][0]


def test_an_arm_outage_is_error_not_fail_and_exit_4(world, env, wi) -> None:
    """ARM answers 503 beyond the retries: the checks that needed it are `error`, none `fail`,
    doctor exits 4, and the closing line says what could not be checked."""
    from wi_cli.lab.admin import apply_faults

    lab = world["lab"]
    apply_faults(lab, {"server": "arm", "fail_next": {"prefix": "/subscriptions", "count": 10000,
                                                      "status": 503, "retry_after": 0}})
    try:
        run = doctor_json(wi, "--no-live")
        doc = run.json
        assert run.code == 4, [(f["id"], f["summary"]) for f in doc["findings"]
                               if f["status"] == "fail"]
        statuses = {f["status"] for f in doc["findings"]}
        assert "fail" not in statuses and "error" in statuses
        run = wi("doctor", "-n", "demo", "--no-live")
        assert run.code == 4 and "fix the ✗ items" not in run.out
        assert "Not checked:" in run.out and "503" in run.out
    finally:
        apply_faults(lab, {"server": "arm", "clear": True})


def test_without_a_subscription_the_identity_checks_say_why_they_skip(world, env, wi,
                                                                     monkeypatch) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")
    doc = doctor_json(wi, "--no-live").json
    client_id = [f for f in doc["findings"] if f["id"] == "identity.client-id"]
    assert [f["status"] for f in client_id] == ["skip"]
    assert "--subscription" in client_id[0]["summary"]
    assert "fail" not in {f["status"] for f in doc["findings"]}


def test_an_unreachable_sign_in_endpoint_is_cannot_reach_exit_4(tmp_path, monkeypatch,
                                                                 wi) -> None:
    """Entra down is a network problem (exit 4, naming the host), not 'no usable credential';
    and azure-identity's own chain dump stays off stderr without --debug."""
    from wi_cli.lab.kube import scenarios
    from wi_cli.lab.runtime import Lab

    with Lab() as lab:
        seeded = scenarios.seed(lab, "bound")
        kubeconfig = seeded.cluster.write_kubeconfig(tmp_path / "kc")
        set_env(monkeypatch, operator_env(lab, seeded, str(kubeconfig)))
        host = lab.entra.url.removeprefix("https://")
        lab.entra.stop()
        for argv in (["doctor", "-n", "demo"], ["bind", "wi-lab-sa", "wi-lab-identity", "-n",
                                                 "demo"]):
            run = wi(*argv)
            assert run.code == 4, run.err
            assert f"Cannot reach {host}" in run.err and "No usable Azure credential" not in run.err
            assert "DefaultAzureCredential failed" not in run.err


def test_findings_carry_a_target_and_a_key_unique_in_the_envelope(world, env, wi) -> None:
    doc = doctor_json(wi, "--no-live").json
    keys = [f["key"] for f in doc["findings"]]
    assert len(keys) == len(set(keys))
    fic = next(f for f in doc["findings"] if f["id"] == "identity.fic")
    assert fic["target"]["namespace"] == "demo"
    assert fic["target"]["service_account"] == "wi-lab-sa"
    assert fic["target"]["identity"] == "wi-lab-identity"
    assert fic["target"]["context"]  # the kubeconfig's current context
    assert fic["key"] == "identity.fic:demo/wi-lab-sa"
