"""The README's "try it without Azure" flow, as a user types it: `wi lab up` in one shell,
`source env.sh` and wi/kubectl in another."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None or shutil.which("bash") is None,
                                reason="needs kubectl and bash")


def shell(env_sh: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f"source {env_sh} && {command}"], capture_output=True,
                          text=True, timeout=120)


def test_lab_up_then_bind_and_doctor_from_another_shell(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    wi = f"{sys.executable} -m wi_cli"
    proc = subprocess.Popen([sys.executable, "-m", "wi_cli", "lab", "up", "--state-dir",
                             str(state), "--scenario", "healthy"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        env_sh = Path(proc.stdout.readline().strip())
        assert env_sh == (state / "env.sh").resolve()

        made = shell(env_sh, "kubectl create serviceaccount app -n demo")
        assert made.returncode == 0, made.stderr
        bound = shell(env_sh, f"{wi} bind app wi-lab-identity -n demo -o json")
        assert bound.returncode == 0, bound.stdout + bound.stderr
        assert json.loads(bound.stdout)["status"] == "ok"

        doctor = shell(env_sh, f"{wi} doctor -n demo --service-account app -o json")
        doc = json.loads(doctor.stdout)
        assert doctor.returncode == 0, [f for f in doc["findings"] if f["status"] == "fail"]
        live = [f for f in doc["findings"] if f["id"] == "live.token-exchange"]
        assert live and live[0]["status"] == "ok"
        probe = shell(env_sh, f"{wi} probe -n demo --service-account app -o json")
        assert probe.returncode == 0, probe.stdout + probe.stderr
        report = json.loads(probe.stdout)["data"]
        assert report["tokens"]["access_token"]["claims"]["xms_mirid"].endswith(
            "/userAssignedIdentities/wi-lab-identity")

        secret = shell(env_sh, "printf %s \"$AZURE_CLIENT_SECRET\"").stdout
        outputs = bound.stdout + doctor.stdout + doctor.stderr + probe.stdout + probe.stderr
        assert secret and secret not in outputs and "eyJ" not in outputs
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "eyJ" not in out + err
