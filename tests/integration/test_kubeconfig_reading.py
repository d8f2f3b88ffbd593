"""Reading the kubeconfig as kubectl does (issue 14): a broken file is one configuration error
(exit 3) in every command, KUBECONFIG lists merge with the first file winning, and exec
credential plugins that are missing or fail are named instead of turning into refusals."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from support import Run, operator_env, seeded_lab, set_env


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("kubeconfig")) as world:
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


def doctor(wi, *argv: str) -> Run:
    return wi("doctor", "-n", "demo", "--no-live", *argv, "-o", "json")


def the_lab(world: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(Path(world["kubeconfig"]).read_text())


def write(path: Path, doc: Any) -> str:
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return str(path)


BROKEN = {
    "yaml": ("clusters:\n- name: x\n  cluster: {server: https://x]\n", "it is not YAML (error at line 3"),
    "string": ("just-a-string-s3cr3t\n", "it is a YAML string, not a mapping"),
    "entry": ("users:\n- name: u\n  user: s3cr3t\n", "the user 'u' is a YAML string"),
}
COMMANDS = {
    "doctor": ["doctor", "-n", "demo"],
    "probe": ["probe", "-n", "demo", "--service-account", "wi-lab-sa"],
    "bind": ["bind", "wi-lab-sa", "wi-lab-identity", "-n", "demo"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_kubeconfig_is_a_configuration_error_in_every_command(
        world, env, wi, tmp_path: Path, command: str, kind: str) -> None:
    text, why = BROKEN[kind]
    path = write(tmp_path / "config", text)
    run = wi(*COMMANDS[command], "--kubeconfig", path, "-o", "json")
    doc = run.json
    assert run.code == 3 and doc["exit_code"] == 3, doc
    message = doc["errors"][0]["message"]
    assert message.startswith(f"The kubeconfig {path} is not valid: {why}"), message
    assert "bug" not in json.dumps(doc) and "s3cr3t" not in json.dumps(doc) + run.err


def test_missing_files_in_the_list_are_skipped(world, env, wi, monkeypatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(["", str(tmp_path / "missing"),
                                                      world["kubeconfig"]]))
    run = doctor(wi)
    doc = run.json
    assert run.code == 0, doc["errors"] or [f for f in doc["findings"] if f["status"] == "fail"]


def test_the_first_file_to_define_an_entry_or_the_current_context_wins(
        world, env, wi, monkeypatch, tmp_path: Path) -> None:
    good = the_lab(world)
    dead = yaml.safe_load(yaml.safe_dump(good))
    dead["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    dead["current-context"] = "elsewhere"
    dead["contexts"].append({"name": "elsewhere", "context": {"cluster": "x", "user": "y"}})
    dead_path = write(tmp_path / "dead", dead)

    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([world["kubeconfig"], dead_path]))
    run = doctor(wi)
    assert run.code == 0, run.json["errors"]

    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([dead_path, world["kubeconfig"]]))
    run = doctor(wi, "--context", good["current-context"])
    assert run.code == 4 and "127.0.0.1:9" in run.json["errors"][0]["message"]  # dead's cluster won
    run = doctor(wi)
    assert run.code == 3 and "'elsewhere'" in run.json["errors"][0]["message"]  # and its context


def test_a_relative_certificate_path_is_read_next_to_its_kubeconfig(
        world, env, wi, monkeypatch, tmp_path: Path) -> None:
    folder = tmp_path / "kube"
    folder.mkdir()
    (folder / "ca.pem").write_bytes(Path(world["lab"].ca_file).read_bytes())
    doc = the_lab(world)
    del doc["clusters"][0]["cluster"]["certificate-authority-data"]
    doc["clusters"][0]["cluster"]["certificate-authority"] = "ca.pem"
    monkeypatch.setenv("KUBECONFIG", write(folder / "config", doc))
    run = doctor(wi)
    assert run.code == 0, run.json["errors"]


def plugin(tmp_path: Path, body: str) -> str:
    script = tmp_path / "wi-test-plugin"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def with_exec(world: dict[str, Any], tmp_path: Path, exec_: dict[str, Any]) -> str:
    doc = the_lab(world)
    doc["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                        **exec_}}
    return write(tmp_path / "config", doc)


def test_a_missing_exec_plugin_is_named_with_its_install_hint(world, env, wi,
                                                              tmp_path: Path) -> None:
    hint = "\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n"
    path = with_exec(world, tmp_path, {"command": "kubelogin", "installHint": hint,
                                       "args": ["get-token", "--login", "azurecli"]})
    run = doctor(wi, "--kubeconfig", path)
    doc = run.json
    assert run.code == 3 and doc["findings"] == []
    (error,) = doc["errors"]
    assert "needs the credential plugin 'kubelogin', which is not installed" in error["message"]
    assert error["remediation"][0] == hint.strip()
    assert any("az aks install-cli" in line for line in error["remediation"])


def test_an_exec_plugin_that_works_gives_the_client_its_token(world, env, wi,
                                                              tmp_path: Path) -> None:
    token = the_lab(world)["users"][0]["user"]["token"]
    status = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
              "status": {"token": token}}
    command = plugin(tmp_path, f"print(json.dumps({status!r}))")
    run = doctor(wi, "--kubeconfig", with_exec(world, tmp_path, {"command": command}))
    assert run.code == 0, run.json["errors"]


def test_a_failing_exec_plugin_is_one_credential_error_and_nothing_leaks(
        world, env, tmp_path: Path) -> None:
    command = plugin(tmp_path, "print('AADSTS50078: sign in again', file=sys.stderr)\nsys.exit(1)")
    path = with_exec(world, tmp_path, {"command": command})
    proc = subprocess.run([sys.executable, "-m", "wi_cli", "doctor", "-n", "demo", "--no-live",
                           "--kubeconfig", path], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env, "COLUMNS": "200"})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"The credential plugin '{command}'" in proc.stderr and "failed" in proc.stderr
    assert "ERROR:root" not in proc.stderr and "refused" not in proc.stdout + proc.stderr
    assert proc.stdout == ""
