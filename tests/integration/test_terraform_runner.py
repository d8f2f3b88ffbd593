"""The Terraform runner against the real terraform binary.

Fixtures in tests/fixtures/terraform use only built-in resources
(terraform_data + local-exec), so init/plan/apply need no provider download.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from wi_cli.adapters.terraform import (
    ApplyComplete,
    ApplyErrored,
    ApplyStart,
    ChangeSummary,
    Diagnostic,
    Event,
    Interrupted,
    PlannedChange,
    ProvisionProgress,
    Runner,
    TerraformFailed,
    TerraformMissing,
    arm_env,
    find_terraform,
    public_outputs,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "terraform"

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform binary not on PATH")


@pytest.fixture(autouse=True)
def _no_terraform_rc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's ~/.terraformrc (credentials, mirrors) must not affect the tests.
    rc = tmp_path / "terraformrc"
    rc.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    monkeypatch.delenv("TF_CLI_ARGS", raising=False)


def _runner(tmp_path: Path, fixture: str, **kwargs) -> Runner:
    runner = Runner(tmp_path / "work", FIXTURES / fixture, env=os.environ, **kwargs)
    runner.prepare()
    runner.init()
    return runner


def test_find_terraform_reports_version() -> None:
    path, version = find_terraform()
    assert Path(path).is_file()
    major, minor = (int(p) for p in version.split(".")[:2])
    assert (major, minor) >= (1, 5)


def test_find_terraform_missing_says_how_to_install() -> None:
    with pytest.raises(TerraformMissing) as info:
        find_terraform("terraform-that-does-not-exist")
    assert info.value.exit_code == 3
    assert any("Install Terraform" in hint for hint in info.value.remediation)


def test_find_terraform_too_old(tmp_path: Path) -> None:
    fake = tmp_path / "terraform"
    fake.write_text('#!/bin/sh\necho \'{"terraform_version":"1.4.7"}\'\n')
    fake.chmod(0o755)
    with pytest.raises(TerraformMissing, match="1.4.7 .* too old"):
        find_terraform(str(fake))


def test_plan_apply_outputs_destroy(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "basic", env_extra=arm_env("sub-123", "tenant-456"))
    var_file = tmp_path / "extra.tfvars"
    var_file.write_text("item_count = 2\n")
    variables = {"greeting": "hello"}

    plan = runner.plan(variables, [var_file])
    assert (plan.add, plan.change, plan.remove) == (3, 0, 0)
    assert plan.total == 3 and plan.has_changes and plan.plan_file.is_file()
    assert plan.actions() == {
        "terraform_data.slow": "create",
        "terraform_data.item[0]": "create",
        "terraform_data.item[1]": "create",
    }

    events: list[Event] = []
    result = runner.apply(events.append)

    starts = {e.address for e in events if isinstance(e, ApplyStart)}
    completes = {e.address: e for e in events if isinstance(e, ApplyComplete)}
    assert starts == set(plan.actions()) == set(completes)
    assert completes["terraform_data.slow"].elapsed_seconds >= 1
    assert completes["terraform_data.slow"].id_value
    outputs = [e.output for e in events
               if isinstance(e, ProvisionProgress) and e.address == "terraform_data.slow"]
    assert "tick sub=sub-123 auto=1" in outputs and "tock" in outputs
    # progress arrives while terraform runs, in order: start before its provisioner output before complete
    kinds = [type(e) for e in events if getattr(e, "address", "") == "terraform_data.slow"]
    assert kinds.index(ApplyStart) < kinds.index(ProvisionProgress) < kinds.index(ApplyComplete)
    summary = [e for e in events if isinstance(e, ChangeSummary)][-1]
    assert (summary.operation, summary.add) == ("apply", 3)
    assert (result.add, result.change, result.remove) == (3, 0, 0)
    assert not runner.workdir.joinpath("wi.tfplan").exists()

    outputs_all = runner.outputs()
    assert outputs_all["token"].sensitive and not outputs_all["greeting"].sensitive
    assert "fixture-token-value" not in repr(outputs_all)
    assert public_outputs(outputs_all) == {"greeting": "hello", "items": ["item-0", "item-1"]}

    again = runner.plan(variables, [var_file])
    assert not again.has_changes and again.changes == []

    destroy_plan, destroyed = runner.destroy(variables, [var_file])
    assert destroy_plan.destroy and destroy_plan.remove == 3
    assert set(destroy_plan.actions().values()) == {"delete"}
    assert destroyed.remove == 3 and sorted(destroyed.completed) == sorted(plan.actions())
    assert runner.outputs() == {}


def test_missing_required_variable_fails_plan_with_diagnostic(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "basic")
    with pytest.raises(TerraformFailed) as info:
        runner.plan({}, [])
    err = info.value
    assert err.exit_code == 4 and err.command == "plan"
    assert "No value for required variable" in str(err)
    assert [d.severity for d in err.diagnostics] == ["error"]
    assert isinstance(err.diagnostics[0], Diagnostic)


def test_validation_error_is_surfaced(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "basic")
    with pytest.raises(TerraformFailed, match="item_count must be between 0 and 5"):
        runner.plan({"greeting": "x", "item_count": 9})


def test_failing_provisioner_surfaces_diagnostic(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "failing")
    plan = runner.plan()
    assert plan.add == 2
    events: list[Event] = []
    with pytest.raises(TerraformFailed) as info:
        runner.apply(events.append)
    err = info.value
    assert err.command == "apply" and err.returncode != 0
    assert "local-exec provisioner error" in err.message
    assert "exit status 7" in err.message
    assert err.diagnostics[0].address == "terraform_data.broken"
    assert [e.address for e in events if isinstance(e, ApplyErrored)] == ["terraform_data.broken"]
    assert [e.address for e in events if isinstance(e, ApplyComplete)] == ["terraform_data.ok"]
    assert err.remediation


def test_prepare_reuses_workdir_and_drops_stale_files(tmp_path: Path) -> None:
    module = tmp_path / "module"
    shutil.copytree(FIXTURES / "failing", module)
    runner = Runner(tmp_path / "work", module, env=os.environ)
    runner.prepare()
    runner.init()
    runner.plan()
    with pytest.raises(TerraformFailed):
        runner.apply()
    state = runner.workdir / "terraform.tfstate"
    assert state.is_file()
    # init without providers creates no .terraform; stand in for the provider cache
    marker = runner.workdir / ".terraform" / "providers" / "marker"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("kept")

    (runner.workdir / "old.tf").write_text('resource "terraform_data" "old" {}\n')
    (module / "main.tf").write_text('resource "terraform_data" "ok" {\n  input = "fine"\n}\n')
    runner.prepare()
    assert not (runner.workdir / "old.tf").exists()
    assert state.is_file() and marker.read_text() == "kept"
    assert (runner.workdir / "main.tf").read_text() == (module / "main.tf").read_text()
    plan = runner.plan()
    # "ok" is kept from the earlier partial apply; the tainted "broken" one is removed
    assert plan.actions() == {"terraform_data.broken": "delete"}


def test_apply_without_plan_fails(tmp_path: Path) -> None:
    runner = Runner(tmp_path / "work", FIXTURES / "failing", env=os.environ)
    runner.prepare()
    with pytest.raises(TerraformFailed, match="no saved plan"):
        runner.apply()


def test_planned_changes_are_dataclasses(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "slow")
    seen: list[Event] = []
    plan = runner.plan(on_event=seen.append)
    assert [c.address for c in plan.changes] == ["terraform_data.long"]
    assert any(isinstance(e, PlannedChange) for e in seen)


INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from wi_cli.adapters.terraform import Interrupted, Runner

    runner = Runner(Path(sys.argv[1]), Path(sys.argv[2]), env=os.environ)
    runner.prepare()
    runner.init()
    runner.plan()
    def show(event):
        print(json.dumps({"type": event.type, "message": event.message}), flush=True)
    try:
        runner.apply(show)
    except Interrupted as exc:
        print("INTERRUPTED: " + exc.message, flush=True)
        for hint in exc.remediation:
            print("HINT: " + hint, flush=True)
        sys.exit(130)
    print("NOT INTERRUPTED", flush=True)
    """
)


def _child_pid(parent: int, name: str) -> int:
    """The pid of ``parent``'s child whose command line mentions ``name`` (Linux /proc)."""
    for task in Path(f"/proc/{parent}/task").iterdir():
        for pid in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if name in cmdline:
                return int(pid)
    raise AssertionError(f"no child process named {name} under {parent}")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the child")
def test_ctrl_c_forwards_exactly_one_sigint(tmp_path: Path) -> None:
    """Simulates a terminal Ctrl-C pressed twice: SIGINT to the whole foreground
    process group of a python process using the runner. Terraform, in its own
    session, must get exactly one SIGINT (forwarded by the runner), stop
    gracefully, and the runner must raise Interrupted with how to resume."""
    script = tmp_path / "interrupt.py"
    script.write_text(INTERRUPT_SCRIPT)
    env = dict(os.environ, TF_CLI_CONFIG_FILE=os.environ["TF_CLI_CONFIG_FILE"])
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "work"), str(FIXTURES / "slow")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, like a shell job
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if '"provision_progress"' in line and "started" in line:
                break
        else:
            pytest.fail("no provisioner progress before EOF: " + "".join(lines) + proc.stderr.read())
        terraform_pid = _child_pid(proc.pid, "terraform")
        # terraform runs in a session of its own, so a terminal's Ctrl-C cannot reach it directly
        assert os.getsid(terraform_pid) != os.getsid(proc.pid)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)  # an impatient second Ctrl-C must not reach terraform
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines) + out
    assert proc.returncode == 130, text + err
    assert "INTERRUPTED: Terraform apply was interrupted" in text
    assert "HINT: run the same `wi provision` command again to resume" in text
    assert text.count("Interrupt received") == 1, text
    assert "Two interrupts received" not in text
    assert elapsed < 20  # the 60 s sleep was cancelled, not waited for
    assert "Traceback" not in err
    # the state survives, so a re-run resumes (the half-created resource is tainted in it)
    state = json.loads((tmp_path / "work" / "terraform.tfstate").read_text())
    assert [(r["type"], r["name"]) for r in state["resources"]] == [("terraform_data", "long")]


def test_interrupt_method_stops_a_running_apply(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "slow")
    runner.plan()
    sent: list[bool] = []

    def on_event(event: Event) -> None:
        if isinstance(event, ProvisionProgress) and event.output == "started":
            sent.append(runner.interrupt())
            sent.append(runner.interrupt())  # the second call must not signal again

    started = time.monotonic()
    with pytest.raises(Interrupted) as info:
        runner.apply(on_event)
    assert sent == [True, False]
    assert info.value.exit_code == 130
    assert time.monotonic() - started < 20


def test_arm_env_passes_the_operators_credentials_and_cloud_the_azurerm_way() -> None:
    env = {"AZURE_CLIENT_ID": "app", "AZURE_CLIENT_SECRET": "s3cret",
           "AZURE_FEDERATED_TOKEN_FILE": "/var/run/token", "ARM_CLIENT_ID": "user-set"}
    got = arm_env("sub", "tenant", "AzureChinaCloud", env)
    assert got == {"ARM_SUBSCRIPTION_ID": "sub", "ARM_TENANT_ID": "tenant",
                   "ARM_CLIENT_SECRET": "s3cret", "ARM_OIDC_TOKEN_FILE_PATH": "/var/run/token",
                   "ARM_USE_OIDC": "true", "ARM_ENVIRONMENT": "china"}
    custom = arm_env(None, None, "https://management.local.stack:8443/metadata/endpoints", {})
    assert custom == {"ARM_METADATA_HOSTNAME": "management.local.stack:8443"}
    assert arm_env("sub", None, "AzureCloud", {}) == {"ARM_SUBSCRIPTION_ID": "sub",
                                                      "ARM_ENVIRONMENT": "public"}
