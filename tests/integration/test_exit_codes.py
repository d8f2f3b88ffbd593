"""Exit codes as README and ../shared/DESIGN.md §3.6 list them (issue 14): an unknown output
format is usage (2); a named object that is missing is 3 whichever command and whichever kind
(identity, service account, namespace, cluster)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("exits")) as world:
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


@pytest.mark.parametrize("argv", [["-o", "yaml", "doctor", "--list-checks"],
                                  ["doctor", "--list-checks", "--output=YAML"]])
def test_an_unknown_output_format_is_a_usage_error(wi, argv: list[str]) -> None:
    run = wi(*argv)
    assert run.code == 2 and run.out == ""
    assert "Output format must be table, json or junit, got" in run.err


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
def test_a_missing_named_object_is_exit_3(world, env, wi, case: str) -> None:
    argv, message = MISSING[case]
    run = wi(*argv, "-o", "json")
    doc = run.json
    assert run.code == 3 == doc["exit_code"] and doc["findings"] == [], doc
    assert doc["errors"][0]["message"].startswith(message)


def test_doctor_with_an_existing_named_cluster_runs(world, env, wi) -> None:
    run = wi("doctor", "-n", "demo", "--no-live", "--cluster", "wi-lab-aks", "-g", "wi-lab-rg",
             "-o", "json")
    doc = run.json
    assert run.code == 0 == doc["exit_code"] and not doc["errors"]
    (aks,) = [f for f in doc["findings"] if f["id"] == "cluster.aks"]
    assert aks["status"] == "ok"
