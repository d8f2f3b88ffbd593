"""`wi provision` as a user runs it: real Terraform applies a fixture module of built-in resources
whose outputs name the lab's AKS cluster, identity, tenant and subscription; the kubeconfig comes
from the lab's listClusterUserCredential."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from support import LAB_TF_MODULE, lab_tf_vars
from wi_cli.core.config import load_state, state_path
from wi_cli.lab.kube import scenarios
from wi_cli.lab.runtime import Lab

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "terraform"
FIXTURE_SECRET = "fixture-sensitive-9f3b7c1d"
OTHER_TOKEN = "other-cluster-token-keep-me"

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None,
                                reason="terraform binary not on PATH")


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    with Lab() as lab:
        yield {"lab": lab, "seeded": scenarios.seed(lab, "healthy")}


@pytest.fixture()
def env(world: dict[str, Any], isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    lab, seeded = world["lab"], world["seeded"]
    rc = isolated_env / "terraformrc"  # a developer's ~/.terraformrc must not matter
    rc.write_text("")
    values = {
        "WI_CLOUD": lab.metadata_url, "AZURE_TENANT_ID": seeded.tenant_id,
        "AZURE_CLIENT_ID": seeded.operator.client_id,
        "AZURE_CLIENT_SECRET": seeded.operator.secret,
        "AZURE_SUBSCRIPTION_ID": seeded.subscription_id,
        "REQUESTS_CA_BUNDLE": str(lab.ca_file), "TF_CLI_CONFIG_FILE": str(rc),
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("TF_CLI_ARGS", raising=False)
    return values


@pytest.fixture()
def kubeconfig(isolated_env: Path) -> Path:
    """The user's kubeconfig already holds another cluster, which must survive the merge."""
    path = Path(os.environ["KUBECONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "other", "cluster": {"server": "https://other.example:6443"}}],
        "users": [{"name": "other-user", "user": {"token": OTHER_TOKEN}}],
        "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other-user"}}],
    }))
    return path


def workdir() -> Path:
    return Path(os.environ["WI_STATE_DIR"]) / "terraform"


def tf_resources(folder: Path) -> list[str]:
    state = json.loads((folder / "terraform.tfstate").read_text())
    return [f"{r['type']}.{r['name']}" for r in state["resources"]]


def assert_no_secret(world: dict[str, Any], *texts: str) -> None:
    seeded = world["seeded"]
    for text in texts:
        assert FIXTURE_SECRET not in text
        assert seeded.cluster.admin_token not in text and OTHER_TOKEN not in text
        assert seeded.operator.secret not in text
        assert "eyJ" not in text and "Traceback" not in text


def test_provision_applies_saves_state_merges_kubeconfig_and_feeds_bind(
        world, env, kubeconfig, wi) -> None:
    seeded = world["seeded"]
    run = wi("provision", "--module", str(LAB_TF_MODULE), *lab_tf_vars(world["seeded"]), "-y")
    assert run.code == 0, run.err

    # plan table and live progress on stderr, results and next commands on stdout
    assert "Terraform plan: 2 to add, 0 to change, 0 to destroy" in run.err
    assert "terraform_data.identity" in run.err and "created" in run.err and "2/2" in run.err
    assert f"wi bind wi-workload {seeded.identity.name} -n demo" in run.out
    assert "wi probe -n demo --service-account wi-workload" in run.out

    # Terraform got the subscription and tenant from wi's settings
    assert (workdir() / "arm-env.txt").read_text() == \
        f"sub={seeded.subscription_id} tenant={seeded.tenant_id}"

    path = state_path(os.environ)
    state = load_state(path)
    assert state is not None
    assert (state.resource_group, state.cluster_name, state.identity_name) == \
        (seeded.resource_group, seeded.cluster_name, seeded.identity.name)
    assert (state.tenant_id, state.subscription_id) == (seeded.tenant_id, seeded.subscription_id)
    assert state.identity_client_id == seeded.identity.client_id
    assert state.acr_login_server == "wilab.azurecr.io"
    assert state.kube_context == seeded.cluster_name

    merged = yaml.safe_load(kubeconfig.read_text())
    assert {c["name"] for c in merged["contexts"]} == {"other", seeded.cluster_name}
    assert {u["name"] for u in merged["users"]} == \
        {"other-user", f"clusterUser_{seeded.resource_group}_{seeded.cluster_name}"}
    assert merged["current-context"] == seeded.cluster_name
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert_no_secret(world, run.out, run.err, path.read_text())

    namespaces = subprocess.run(
        ["kubectl", "--request-timeout=10s", "--context", seeded.cluster_name, "get", "ns",
         "-o", "name"], check=True, capture_output=True, text=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)}).stdout
    assert "namespace/demo" in namespaces

    # `wi bind` right after takes the cluster (and context) from the state file
    seeded.cluster.store.create("serviceaccounts", "demo", {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "app-prov", "namespace": "demo"}})
    run = wi("bind", "app-prov", seeded.identity.name, "-n", "demo", "-o", "json")
    assert run.code == 0, run.out
    bound = run.json["data"]
    assert bound["issuer_source"] == f"AKS cluster {seeded.cluster_name}"
    assert bound["issuer"] == seeded.issuer_url

    # a re-run plans nothing, still refreshes state and kubeconfig, and prints JSON data
    run = wi("provision", "--module", str(LAB_TF_MODULE), *lab_tf_vars(world["seeded"]),
             "-y", "-o", "json")
    assert run.code == 0, run.err
    doc = run.json
    data = doc["data"]
    assert data["plan"]["add"] == 0 and data["applied"] is False
    assert data["state_path"] == str(path) and data["kube_context"] == seeded.cluster_name
    assert data["outputs"]["cluster_name"] == seeded.cluster_name
    assert "admin_secret" not in data["outputs"]
    assert any(line.startswith("wi bind wi-workload") for line in data["next"])
    assert "No changes" in run.err
    assert len(yaml.safe_load(kubeconfig.read_text())["contexts"]) == 2
    assert_no_secret(world, run.out, run.err, path.read_text(), (workdir() / ".wi-inputs.json").read_text())


def test_rerun_without_vars_reuses_the_last_module_and_variables(world, env, kubeconfig,
                                                                  wi) -> None:
    run = wi("provision", "--module", str(LAB_TF_MODULE), *lab_tf_vars(world["seeded"]), "-y")
    assert run.code == 0, run.err
    run = wi("provision", "--plan-only", "-o", "json")
    assert run.code == 0, run.err
    assert run.json["data"]["plan"]["add"] == 0
    assert "Reusing variable(s) from the last run" in run.err and "cluster_name" in run.err


def test_plan_only_changes_nothing(world, env, kubeconfig, wi) -> None:
    before = kubeconfig.read_text()
    run = wi("provision", "--module", str(LAB_TF_MODULE), *lab_tf_vars(world["seeded"]),
             "--plan-only", "-o", "json")
    assert run.code == 0, run.err
    data = run.json["data"]
    assert data["plan_only"] and not data["applied"]
    assert data["plan"]["add"] == 2 and data["state_path"] is None
    assert {c["action"] for c in data["plan"]["changes"]} == {"create"}
    assert not state_path(os.environ).exists()
    assert kubeconfig.read_text() == before
    assert not (workdir() / "terraform.tfstate").exists()
    assert not (workdir() / "arm-env.txt").exists()


def test_destroy_removes_what_was_created_and_clears_the_state(world, env, kubeconfig,
                                                               wi) -> None:
    run = wi("provision", "--module", str(LAB_TF_MODULE), *lab_tf_vars(world["seeded"]), "-y")
    assert run.code == 0, run.err
    assert tf_resources(workdir()) == ["terraform_data.cluster", "terraform_data.identity"]

    run = wi("provision", "--destroy", "-y")
    assert run.code == 0, run.err
    assert "Terraform plan: 0 to add, 0 to change, 2 to destroy" in run.err
    assert f"State file {state_path(os.environ)} removed" in run.out
    assert f"kubectl config delete-context {world['seeded'].cluster_name}" in run.out
    assert not state_path(os.environ).exists()
    assert tf_resources(workdir()) == []
    assert not (workdir() / "arm-env.txt").exists()


def test_destroy_with_nothing_provisioned_is_a_precondition(env, wi) -> None:
    run = wi("provision", "--destroy", "-y")
    assert run.code == 5 and "nothing to destroy" in run.err and run.out == ""


def test_failing_module_exits_4_with_the_diagnostic(env, kubeconfig, wi) -> None:
    before = kubeconfig.read_text()
    run = wi("provision", "--module", str(FIXTURES / "failing"), "-y")
    assert run.code == 4
    assert "local-exec provisioner error" in run.err and "exit status 7" in run.err
    assert "terraform_data.broken" in run.err and "failed" in run.err
    assert run.err.count("Error:") == 1
    assert not state_path(os.environ).exists() and kubeconfig.read_text() == before


def test_missing_terraform_exits_3_and_writes_nothing(env, wi, tmp_path,
                                                      monkeypatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    run = wi("provision", "--module", str(LAB_TF_MODULE), "-y")
    assert run.code == 3
    assert "Terraform was not found" in run.err and "Install Terraform" in run.err
    assert not workdir().exists()


@pytest.mark.parametrize("argv, code, fragment", [
    (["provision"], 2, "pass -y to apply without a prompt"),
    (["provision", "--destroy"], 2, "pass -y to apply without a prompt"),
    (["provision", "--var", "no-equals-sign", "-y"], 2, "NAME=VALUE"),
    (["provision", "--var-file", "/nonexistent.tfvars", "-y"], 2, "does not exist"),
    (["provision", "--bogus"], 2, "No such option"),
    (["provision", "--module", "/nonexistent-module", "-y"], 2, "not a Terraform root module"),
])
def test_bad_input_exits_2_and_changes_nothing(env, wi, argv, code, fragment) -> None:
    run = wi(*argv)
    assert run.code == code and fragment in run.err and run.out == ""
    assert not Path(os.environ["WI_STATE_DIR"]).exists()


def test_json_mode_requires_yes(env, wi) -> None:
    run = wi("provision", "--module", str(LAB_TF_MODULE), "-o", "json")
    doc = run.json
    assert run.code == 2 and doc["exit_code"] == 2 and doc["status"] == "error"
    assert "pass -y" in doc["errors"][0]["remediation"][0]
    assert not Path(os.environ["WI_STATE_DIR"]).exists()


def _terraform_child(parent: int) -> int | None:
    """The `terraform apply` wi started, if running; threads and children come and go while
    this reads /proc, so what vanished in between is simply not there yet."""
    try:
        tasks = list(Path(f"/proc/{parent}/task").iterdir())
    except FileNotFoundError:
        return None
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for pid in children:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if b"apply" in cmdline and b"terraform" in cmdline[0]:
                return int(pid)
    return None


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_ctrl_c_during_apply_exits_130_and_says_how_to_resume(env, tmp_path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wi_cli", "provision", "--module", str(FIXTURES / "slow"), "-y",
         "--workdir", str(tmp_path / "work")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _terraform_child(proc.pid) is None:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        time.sleep(1)  # let the provisioner start
        os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole foreground group
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "again to resume" in err
    assert "Traceback" not in err and out == ""
    assert tf_resources(tmp_path / "work") == ["terraform_data.long"]


def test_help_imports_no_sdk() -> None:
    probe = ("import json, sys\nfrom wi_cli.cli.app import main\ncode = main(sys.argv[1:])\n"
             "mods = [m for m in sys.modules if m.split('.')[0] in ('azure', 'kubernetes', 'yaml')"
             " or m.startswith(('wi_cli.lab', 'wi_cli.adapters'))]\n"
             "print(json.dumps({'code': code, 'mods': mods}), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe, "provision", "--help"],
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "mods": []}
    assert "--plan-only" in proc.stdout and "--destroy" in proc.stdout


def _run_in_terminal(argv: list[str], answer: bytes, timeout: float = 60) -> tuple[int, str]:
    """Run wi on a pseudo-terminal and type ``answer`` at the confirmation prompt."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: wi with the pty as its terminal
        try:
            os.execv(sys.executable, [sys.executable, "-m", "wi_cli", *argv])
        finally:
            os._exit(127)
    screen, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(fd, answer + b"\r")
                answered = True
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def test_a_terminal_is_asked_and_no_applies_nothing(env, tmp_path) -> None:
    work = tmp_path / "work"
    code, screen = _run_in_terminal(
        ["provision", "--module", str(FIXTURES / "failing"), "--workdir", str(work)], b"n")
    assert "Apply these changes? [y/N]" in screen and "terraform_data.broken" in screen
    assert code == 130 and "Cancelled: nothing was applied" in screen
    assert not (work / "terraform.tfstate").exists()
