"""`wi doctor` when it cannot reach what it needs: one sentence, exit 3 or 4, no findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.cli.app import main


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("reach")) as world:
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


def doctor_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(["doctor", "-n", "demo", *argv, "-o", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_the_bound_lab_is_healthy(world, env, capsys) -> None:
    code, doc, _ = doctor_json(capsys)
    assert code == 0, [f for f in doc["findings"] if f["status"] in ("fail", "error")]


def test_missing_kubeconfig_is_a_configuration_error(world, env, capsys, tmp_path: Path) -> None:
    code, doc, _ = doctor_json(capsys, "--kubeconfig", str(tmp_path / "nope"))
    assert code == 3 and doc["status"] == "error" and doc["findings"] == []
    assert "No kubeconfig found" in doc["errors"][0]["message"]


def test_unreachable_api_server_is_exit_4(world, env, capsys, tmp_path: Path) -> None:
    dead = tmp_path / "dead"
    dead.write_text(Path(world["kubeconfig"]).read_text().replace(
        world["seeded"].cluster.url, "https://127.0.0.1:9"))
    code, doc, _ = doctor_json(capsys, "--kubeconfig", str(dead))
    assert code == 4 and "Could not reach" in doc["errors"][0]["message"]


def test_wrong_operator_secret_is_exit_3_without_the_secret(world, env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "definitely-wrong-secret")
    code, doc, err = doctor_json(capsys)
    assert code == 3 and "AADSTS7000215" in doc["errors"][0]["message"]
    assert "definitely-wrong-secret" not in json.dumps(doc) + err


def test_unknown_check_id_is_a_usage_error(world, env, capsys) -> None:
    code, doc, _ = doctor_json(capsys, "--check", "no.such-check")
    assert code == 2 and "wi doctor --list-checks" in doc["errors"][0]["remediation"][0]
