"""`wi --help` must stay fast: no Azure or Kubernetes SDK, adapter or lab module on that path."""

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from wi_cli.cli.app import main
code = main(sys.argv[1:])
mods = [m for m in sys.modules if m.split('.')[0] in ('azure', 'kubernetes', 'msal', 'urllib3')
        or m.startswith(('wi_cli.lab', 'wi_cli.adapters'))]
print(json.dumps({"code": code, "mods": mods}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["doctor", "--help"], ["bind", "--help"],
                                  ["lab", "up", "--help"], ["--version"]])
def test_help_imports_no_sdk(argv: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] == 0
    assert report["mods"] == []


def test_console_script_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "wi_cli", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("wi ")
