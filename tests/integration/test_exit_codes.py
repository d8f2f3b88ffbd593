"""Exit codes as README and ../shared/DESIGN.md §3.6 list them (issue 14): an unknown output
format is usage (2); a named object that is missing is 3 whichever command and whichever kind
(identity, service account, namespace, cluster)."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.cli.app import main


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("exits")) as world:
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


def wi_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "-o", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == code
    return code, doc


@pytest.mark.parametrize("argv", [["-o", "yaml", "doctor", "--list-checks"],
                                  ["doctor", "--list-checks", "--output=YAML"]])
def test_an_unknown_output_format_is_a_usage_error(capsys, argv: list[str]) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "Output format must be table, json or junit, got" in err


MISSING = {
    "identity (bind)": (["bind", "wi-lab-sa", "nope-identity", "-n", "demo", "--dry-run"],
                        "No user-assigned identity named 'nope-identity'"),
    "identity (unbind)": (["unbind", "wi-lab-sa", "nope-identity", "-n", "demo", "--dry-run"],
                          "No user-assigned identity named 'nope-identity'"),
    "service account": (["bind", "nope-sa", "wi-lab-identity", "-n", "demo", "--dry-run"],
                        "Service account demo/nope-sa does not exist"),
    "namespace": (["bind", "wi-lab-sa", "wi-lab-identity", "-n", "nope-ns", "--dry-run"],
                  "Namespace nope-ns does not exist"),
    "cluster (bind)": (["bind", "wi-lab-sa", "wi-lab-identity", "-n", "demo", "--cluster", "bogus",
                        "-g", "wi-lab-rg", "--dry-run"],
                       "No AKS cluster 'bogus' in resource group wi-lab-rg."),
    "cluster (doctor)": (["doctor", "-n", "demo", "--cluster", "bogus", "-g", "wi-lab-rg"],
                         "No AKS cluster 'bogus' in resource group wi-lab-rg."),
}


@pytest.mark.parametrize("case", sorted(MISSING))
def test_a_missing_named_object_is_exit_3(world, env, capsys, case: str) -> None:
    argv, message = MISSING[case]
    code, doc = wi_json(capsys, *argv)
    assert code == 3 and doc["findings"] == [], doc
    assert doc["errors"][0]["message"].startswith(message)


def test_doctor_with_an_existing_named_cluster_runs(world, env, capsys) -> None:
    code, doc = wi_json(capsys, "doctor", "-n", "demo", "--no-live", "--cluster", "wi-lab-aks",
                        "-g", "wi-lab-rg")
    assert code == 0 and not doc["errors"]
    (aks,) = [f for f in doc["findings"] if f["id"] == "cluster.aks"]
    assert aks["status"] == "ok"
