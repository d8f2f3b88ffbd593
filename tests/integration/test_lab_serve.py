"""``python -m wi_cli.lab.serve``: the lab as a foreground process, as ``wi lab up`` runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from wi_cli.lab.kube.scenarios import seed
from wi_cli.lab.runtime import Lab


def _read_env(env_sh: Path) -> dict[str, str]:
    out = subprocess.run(["bash", "-c", f"set -a; source {env_sh}; env -0"],
                         capture_output=True, timeout=20, check=True)
    pairs = (item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return dict(pairs)


@pytest.mark.skipif(shutil.which("kubectl") is None or shutil.which("bash") is None,
                    reason="needs kubectl and bash")
def test_serve_writes_state_prints_env_path_and_stops_on_sigint(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wi_cli.lab.serve", "--state-dir", str(state),
         "--scenario", "healthy"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        first_line = proc.stdout.readline().strip()
        env_sh = state / "env.sh"
        assert first_line == str(env_sh.resolve()), proc.stderr.read() if not first_line else ""
        for name in ("env.sh", "kubeconfig", "ca.pem", "lab.json"):
            assert (state / name).is_file(), name
        assert stat.S_IMODE((state / "kubeconfig").stat().st_mode) == 0o600
        assert stat.S_IMODE(env_sh.stat().st_mode) == 0o600

        env = _read_env(env_sh)
        for name in ("WI_CLOUD", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                     "AZURE_SUBSCRIPTION_ID", "AZURE_AUTHORITY_HOST", "REQUESTS_CA_BUNDLE",
                     "SSL_CERT_FILE", "KUBECONFIG"):
            assert env.get(name), name
        assert env["KUBECONFIG"] == str((state / "kubeconfig").resolve())
        assert env["SSL_CERT_FILE"] == str((state / "ca.pem").resolve())
        assert env["WI_CLOUD"].endswith("/metadata/endpoints?api-version=2022-09-01")
        secret = env["AZURE_CLIENT_SECRET"]

        info = json.loads((state / "lab.json").read_text())
        assert info["seeded"]["cluster_name"] == "wi-lab-aks"
        assert secret not in (state / "lab.json").read_text()

        kubectl = subprocess.run(["bash", "-c", f"source {env_sh} && kubectl get ns -o name"],
                                 capture_output=True, text=True, timeout=30)
        assert kubectl.returncode == 0, kubectl.stderr
        assert "namespace/demo" in kubectl.stdout.split()
        assert "namespace/kube-system" in kubectl.stdout.split()

        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    assert out.strip() == ""  # nothing after the one env.sh line
    assert secret not in out and secret not in err and secret not in first_line


def test_unknown_scenario_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "wi_cli.lab.serve", "--state-dir", "/nonexistent-wi",
                           "--scenario", "nope"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown lab scenario 'nope'" in proc.stderr


def test_empty_and_healthy_scenarios_seed_what_they_promise() -> None:
    with Lab() as lab:
        empty = seed(lab, "empty")
        assert empty.cluster is None and lab.kube is None
        owner = [ra for ra in lab.azure.assignments_for(empty.operator.object_id)]
        assert len(owner) == 1 and owner[0].scope == f"/subscriptions/{empty.subscription_id}"
    with Lab() as lab:
        healthy = seed(lab, "healthy")
        assert lab.kube is healthy.cluster and lab.kube_clusters["wi-lab-aks"] is healthy.cluster
        record = lab.azure.cluster(healthy.subscription_id, "wi-lab-rg", "wi-lab-aks")
        assert record is not None and record.issuer_url == healthy.issuer_url
        assert record.issuer_url.startswith(lab.oidc.server.url) and record.workload_identity_enabled
        assert healthy.identity is not None
        roles = {lab.azure.role_definitions[ra.role_guid].role_name
                 for ra in lab.azure.assignments_for(healthy.identity.principal_id)}
        assert "Reader" in roles and len(roles) == 2
        assert healthy.cluster.store.try_get("namespaces", None, "demo") is not None
        assert healthy.operator.secret and healthy.operator.secret not in json.dumps(healthy.summary())


def _wi(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wi_cli", *argv], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "80"})


def _read_envelope(proc: subprocess.Popen[str]) -> dict:
    """The first JSON document on the process's stdout, one line (piped) or indented."""
    assert proc.stdout is not None
    text = ""
    for _ in range(400):
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "stdout closed"
        text += line
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            continue
    raise AssertionError(f"no JSON envelope in {text[:500]!r}")


def test_wi_lab_up_json_locks_its_folder_and_status_and_down_find_it(tmp_path: Path) -> None:
    """`wi lab up -o json` prints one envelope once ready; a second `wi lab up` on the same
    folder is refused with the first one's PID and changes nothing; `wi lab status` and
    `wi lab down` find the lab by its lock."""
    state = tmp_path / "lab"
    proc = subprocess.Popen([sys.executable, "-m", "wi_cli", "lab", "up", "--state-dir",
                             str(state), "--scenario", "empty", "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        doc = _read_envelope(proc)
        assert doc["command"] == "lab up" and doc["status"] == "ok" and doc["exit_code"] == 0
        data = doc["data"]
        assert data["pid"] == proc.pid and data["env_sh"] == str(state / "env.sh")
        assert data["scenario"] == "empty" and data["servers"]["entra"].startswith("https://")
        before = {name: (state / name).read_bytes() for name in ("ca.pem", "env.sh", "kubeconfig")}
        assert "AZURE_CLIENT_SECRET" not in json.dumps(doc)

        second = _wi("lab", "up", "--state-dir", str(state), "--scenario", "healthy")
        assert second.returncode == 5, second.stderr
        assert f"PID {proc.pid}" in second.stderr and "wi lab down" in second.stderr
        assert {n: (state / n).read_bytes() for n in before} == before
        raw = subprocess.run([sys.executable, "-m", "wi_cli.lab.serve", "--state-dir", str(state)],
                             capture_output=True, text=True, timeout=60)
        assert raw.returncode == 5 and f"PID {proc.pid}" in raw.stderr

        status = _wi("lab", "status", "--state-dir", str(state), "-o", "json")
        assert json.loads(status.stdout)["data"]["running"] is True
        assert json.loads(status.stdout)["data"]["pid"] == proc.pid
        human = _wi("lab", "status", "--state-dir", str(state))
        assert f"(PID {proc.pid}, scenario empty)" in human.stdout
        assert data["metadata_url"] in human.stdout  # whole, not cut at 80 columns

        down = _wi("lab", "down", "--state-dir", str(state))
        assert down.returncode == 0 and f"Stopped the lab in {state} (PID {proc.pid})" in down.stdout
        assert proc.wait(timeout=20) == 0
        assert proc.stdout.read() == ""  # nothing after the envelope
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    status = _wi("lab", "status", "--state-dir", str(state), "-o", "json")
    assert status.returncode == 0 and json.loads(status.stdout)["data"]["running"] is False
    again = _wi("lab", "down", "--state-dir", str(state))
    assert again.returncode == 0 and "nothing to stop" in again.stdout
