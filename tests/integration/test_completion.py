"""Shell completion (issue 14): the scripts for bash, zsh, fish and PowerShell, installing one,
and completing in a real bash: commands, options, and namespaces, service accounts and
identities from the current context (the lab), within a short budget and silently."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from support import operator_env, seeded_lab

BIN = str(Path(sys.executable).parent)
needs_bash = pytest.mark.skipif(shutil.which("bash") is None or
                                shutil.which("wi", path=BIN) is None,
                                reason="needs bash and the wi console script")


def wi(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wi_cli", *argv], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("shell, marks", [
    ("bash", ["_WI_COMPLETE=complete_bash", "complete -o default -F _wi_completion wi"]),
    ("zsh", ["#compdef wi", "_WI_COMPLETE=complete_zsh", "compdef _wi_completion wi"]),
    ("fish", ["complete --command wi", "_WI_COMPLETE=complete_fish"]),
    ("powershell", ["Register-ArgumentCompleter -Native -CommandName wi",
                    '$Env:_WI_COMPLETE = "complete_powershell"']),
    ("pwsh", ["Register-ArgumentCompleter -Native -CommandName wi"]),
])
def test_the_script_for_each_shell(shell: str, marks: list[str]) -> None:
    proc = wi("--show-completion", shell)
    assert proc.returncode == 0 and proc.stderr == ""
    for mark in marks:
        assert mark in proc.stdout, (mark, proc.stdout)


def test_an_unknown_shell_is_a_usage_error() -> None:
    proc = wi("--show-completion", "tcsh")
    assert proc.returncode == 2 and "Unknown shell 'tcsh'" in proc.stderr


@needs_bash
def test_without_a_name_the_shell_wi_runs_in_is_used() -> None:
    proc = subprocess.run(["bash", "-c", "wi --show-completion; true"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert proc.returncode == 0 and "_WI_COMPLETE=complete_bash" in proc.stdout, proc.stderr


def test_install_adds_it_to_the_shells_start_up_file(isolated_env: Path) -> None:
    proc = wi("--install-completion", "bash")
    assert proc.returncode == 0, proc.stderr
    assert "bash completion installed in" in proc.stdout
    assert "wi" in (isolated_env / ".bashrc").read_text()


def complete(words: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str, float]:
    """What bash offers for the last word, with wi's script sourced as a user would."""
    line = " ".join(f'"{w}"' for w in words)
    script = (f"source <(wi --show-completion bash); COMP_WORDS=({line}); "
              f"COMP_CWORD={len(words) - 1}; _wi_completion wi; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    start = time.monotonic()
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {}),
                               "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.splitlines() if w], proc.stderr, time.monotonic() - start


@needs_bash
def test_bash_completes_commands_options_and_shells() -> None:
    assert complete(["wi", "do"])[0] == ["doctor"]
    assert complete(["wi", "lab", ""])[0] == ["up", "status", "down"]
    assert "--no-live" in complete(["wi", "doctor", "--no"])[0]
    assert complete(["wi", "--show-completion", "p"])[0] == ["powershell", "pwsh"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("complete")) as world:
        yield world


@needs_bash
def test_bash_completes_names_from_the_current_context(world: dict[str, Any]) -> None:
    env = operator_env(world["lab"], world["seeded"], world["kubeconfig"])
    namespaces, err, _ = complete(["wi", "doctor", "-n", ""], env)
    assert "demo" in namespaces and "kube-system" in namespaces and err == ""
    assert complete(["wi", "probe", "-n", "demo", "--service-account", "wi-"], env)[0] == \
        ["wi-lab-sa"]
    assert complete(["wi", "bind", "-n", "demo", "wi-l"], env)[0] == ["wi-lab-sa"]
    # identities come from ARM: signing in and listing may take longer than 2 s on a busy CI
    slow_ok = {**env, "WI_COMPLETION_SECONDS": "30"}
    assert complete(["wi", "bind", "wi-lab-sa", ""], slow_ok)[0] == ["wi-lab-identity"]


@needs_bash
def test_a_cluster_that_does_not_answer_costs_the_budget_and_prints_nothing(
        world: dict[str, Any], tmp_path: Path) -> None:
    from wi_cli.cli.completion import COMPLETION_SECONDS

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        doc = yaml.safe_load(Path(world["kubeconfig"]).read_text())
        doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{silent.getsockname()[1]}"
        kubeconfig = tmp_path / "config"
        kubeconfig.write_text(yaml.safe_dump(doc))
        words, err, elapsed = complete(["wi", "doctor", "-n", ""],
                                       {"KUBECONFIG": str(kubeconfig)})
    assert words == [] and err == ""
    assert elapsed < COMPLETION_SECONDS + 5
