"""`wi --help` must stay fast: no Azure or Kubernetes SDK, adapter or lab module on that path,
nor the domain models the options do not need (each costs start-up time), and neither rich
(the help is plain text) nor pydantic (typer >= 0.29 converts values with it;
wi's parameters get a plain conversion). Speed itself is measured by bench/startup.py."""

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from wi_cli.cli.app import main
code = main(sys.argv[1:])
mods = [m for m in sys.modules if m.split('.')[0] in ('azure', 'kubernetes', 'msal', 'urllib3',
                                                       'rich', 'pydantic', 'pydantic_core')
        or m.startswith(('wi_cli.lab', 'wi_cli.adapters', 'wi_cli.doctor', 'wi_cli.render'))
        or (m.startswith('wi_cli.core.models.')  # the domain: only what the options need
            and m not in ('wi_cli.core.models.findings', 'wi_cli.core.models.probe_defaults'))]
print(json.dumps({"code": code, "mods": mods}), file=sys.stderr)
"""


def imported(argv: list[str]) -> tuple[int, list[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], report["mods"]


@pytest.mark.parametrize("argv", [["--help"], ["doctor", "--help"], ["bind", "--help"],
                                  ["lab", "up", "--help"], ["probe", "-h"], ["lab"], [],
                                  ["--version"], ["--show-completion", "bash"]])
def test_help_imports_no_sdk_no_rich_no_pydantic(argv: list[str]) -> None:
    assert imported(argv) == (0, [])


def test_a_command_converts_its_values_without_pydantic() -> None:
    code, mods = imported(["doctor", "--list-checks", "-o", "json", "--check", "cluster.aks"])
    assert code == 0 and not [m for m in mods if m.startswith("pydantic")]


def test_a_bad_number_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "wi_cli", "probe", "--timeout", "soon"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Invalid value for '--timeout': 'soon' is not a number." in proc.stderr
    assert "wi probe --help" in proc.stderr


def test_console_script_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "wi_cli", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("wi ")


GENERATED_APIS = """
import json, sys
from wi_cli.cli.app import main
code = main(sys.argv[1:])
mods = sorted(m for m in sys.modules
              if m.startswith(("kubernetes.client.api.", "kubernetes.client.models.")))
print(json.dumps({"code": code, "mods": mods}), file=sys.stderr)
"""


def test_bind_and_doctor_read_kubernetes_as_plain_json(tmp_path) -> None:
    """The kubernetes package stays for kubeconfig, contexts, exec plugins and auth; its generated
    API and model modules (core_v1_api alone costs most of a second) are never imported."""
    import os

    from support import operator_env, seeded_lab

    with seeded_lab("healthy", tmp_path) as world:
        env = {**os.environ, **operator_env(world["lab"], world["seeded"], world["kubeconfig"]),
               "HOME": str(tmp_path), "WI_STATE_DIR": str(tmp_path / "state")}
        for argv in (["bind", "plain", "wi-lab-identity", "-n", "demo", "--create", "-o", "json"],
                     ["doctor", "-n", "demo", "-o", "json"]):
            proc = subprocess.run([sys.executable, "-c", GENERATED_APIS, *argv], env=env,
                                  capture_output=True, text=True, timeout=120)
            report = json.loads(proc.stderr.strip().splitlines()[-1])
            assert report["code"] in (0, 1), proc.stdout[-2000:]
            assert report["mods"] == [], (argv, report["mods"])
