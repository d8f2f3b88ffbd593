"""The one plan → confirm → apply path of `wi provision` and `--destroy`, on plain data.

The Terraform port and the display are small in-memory implementations passed as parameters
(the real runner is tested against the terraform binary in tests/integration)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wi_cli.core import provision as core
from wi_cli.core.config import load_state
from wi_cli.core.errors import Interrupted, TerraformError
from wi_cli.core.provision_inputs import INPUTS_FILE


@dataclass(frozen=True)
class Change:
    address: str
    action: str


@dataclass(frozen=True)
class Plan:
    destroy: bool
    add: int = 0
    change: int = 0
    remove: int = 0
    import_: int = 0
    changes: list[Change] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.remove or self.import_)

    @property
    def total(self) -> int:
        return self.add + self.change + self.remove


@dataclass(frozen=True)
class Out:
    value: Any
    sensitive: bool = False


class FakeRunner:
    def __init__(self, workdir: Path, module: Path, world: "FakeTerraform") -> None:
        self.workdir, self.module, self.world = workdir, module, world

    def prepare(self) -> Path:
        self.world.calls.append("prepare")
        self.workdir.mkdir(parents=True, exist_ok=True)
        return self.workdir

    def init(self) -> None:
        self.world.calls.append("init")

    def plan(self, vars: Mapping[str, str], var_files: Sequence[Path], destroy: bool) -> Plan:
        self.world.calls.append("plan -destroy" if destroy else "plan")
        self.world.planned_vars = dict(vars)
        return self.world.destroy_plan if destroy else self.world.plan

    def apply(self, on_event: Callable[[Any], None]) -> object:
        self.world.calls.append("apply")
        on_event("an event")
        if self.world.apply_error is not None:
            raise self.world.apply_error
        return None

    def outputs(self) -> Mapping[str, Out]:
        self.world.calls.append("output")
        return self.world.outputs


@dataclass
class FakeTerraform:
    plan: Plan = field(default_factory=lambda: Plan(False, add=1,
                                                    changes=[Change("a.b", "create")]))
    destroy_plan: Plan = field(default_factory=lambda: Plan(True, remove=1))
    outputs: dict[str, Out] = field(default_factory=lambda: {
        "identity_name": Out("id-demo"), "admin_secret": Out("s3cret", sensitive=True)})
    apply_error: Exception | None = None
    calls: list[str] = field(default_factory=list)
    planned_vars: dict[str, str] = field(default_factory=dict)

    def bundled_module(self) -> Path:
        return Path("/bundled/terraform")

    def runner(self, workdir: Path, module: Path, *, subscription: str | None,
               tenant_id: str | None, cloud: str | None) -> FakeRunner:
        self.calls.append(f"runner {module} sub={subscription}")
        return FakeRunner(workdir, module, self)


@dataclass
class FakeDisplay:
    answer: bool = True
    shown: list[str] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)

    def plan(self, summary: Any) -> None:
        self.shown.append(f"plan destroy={summary.destroy} total={summary.total}")

    def confirm(self, summary: Any) -> bool:
        self.shown.append("asked")
        return self.answer

    @contextmanager
    def applying(self, summary: Any) -> Iterator[Callable[[Any], None]]:
        yield self.events.append

    def note(self, text: str) -> None:
        self.shown.append(text)

    def failed(self, error: TerraformError) -> None:
        self.shown.append(f"failed: {error.message}")


@pytest.fixture()
def module(tmp_path: Path) -> Path:
    folder = tmp_path / "module"
    folder.mkdir()
    (folder / "main.tf").write_text("")
    return folder


def request(tmp_path: Path, module: Path | None, variables: dict[str, str] | None = None,
            **kw: Any) -> core.ProvisionRequest:
    variables = {"location": "westeurope"} if variables is None else variables
    return core.ProvisionRequest(variables, [], tmp_path / "work", module, **kw)


def target(tmp_path: Path) -> core.Target:
    return core.Target("AzureCloud", "sub-1", "tenant-1", tmp_path / "kubeconfig",
                       tmp_path / "state.json")


def test_provision_plans_confirms_records_inputs_applies_and_keeps_public_outputs(
        tmp_path: Path, module: Path) -> None:
    tf, display = FakeTerraform(), FakeDisplay()
    outcome = core.provision(request(tmp_path, module), target(tmp_path), display, tf)
    assert tf.calls == [f"runner {module} sub=sub-1", "prepare", "init", "plan", "apply",
                        "output"]
    assert "asked" in display.shown and display.events == ["an event"]
    assert outcome.applied and outcome.outputs == {"identity_name": "id-demo"}
    recorded = json.loads((tmp_path / "work" / INPUTS_FILE).read_text())
    assert recorded == {"module": str(module), "vars": {"location": "westeurope"},
                        "var_files": []}
    state = load_state(tmp_path / "state.json")
    assert state is not None and state.identity_name == "id-demo"
    assert state.subscription_id == "sub-1" and outcome.kube_context is None
    assert "s3cret" not in json.dumps(outcome.to_json())
    assert outcome.to_json()["plan"]["changes"] == [{"address": "a.b", "action": "create"}]


def test_plan_only_stops_after_the_plan(tmp_path: Path, module: Path) -> None:
    tf, display = FakeTerraform(), FakeDisplay()
    outcome = core.provision(request(tmp_path, module, plan_only=True), target(tmp_path),
                             display, tf)
    assert tf.calls[-1] == "plan" and "asked" not in display.shown
    assert outcome.plan_only and not outcome.applied and outcome.state_path is None
    assert not (tmp_path / "work" / INPUTS_FILE).exists()
    assert not (tmp_path / "state.json").exists()


def test_a_declined_plan_applies_and_records_nothing(tmp_path: Path, module: Path) -> None:
    tf, display = FakeTerraform(), FakeDisplay(answer=False)
    with pytest.raises(Interrupted, match="Cancelled: nothing was applied"):
        core.provision(request(tmp_path, module), target(tmp_path), display, tf)
    assert "apply" not in tf.calls and not (tmp_path / "work" / INPUTS_FILE).exists()


def test_nothing_to_change_asks_nothing_and_still_records(tmp_path: Path, module: Path) -> None:
    tf, display = FakeTerraform(plan=Plan(False)), FakeDisplay(answer=False)
    outcome = core.provision(request(tmp_path, module), target(tmp_path), display, tf)
    assert "asked" not in display.shown and "apply" not in tf.calls
    assert not outcome.applied and (tmp_path / "work" / INPUTS_FILE).is_file()
    assert outcome.state_path == tmp_path / "state.json"


def test_a_failed_apply_is_shown_in_full_then_raised(tmp_path: Path, module: Path) -> None:
    tf = FakeTerraform(apply_error=TerraformError("Terraform apply failed: boom."))
    display = FakeDisplay()
    with pytest.raises(TerraformError, match="boom"):
        core.provision(request(tmp_path, module, assume_yes=True), target(tmp_path), display, tf)
    assert display.shown[-1] == "failed: Terraform apply failed: boom."
    assert "asked" not in display.shown  # -y
    assert (tmp_path / "work" / INPUTS_FILE).is_file()  # a re-run resumes with the same inputs
    assert not (tmp_path / "state.json").exists()


def test_destroy_walks_the_same_path_with_a_destroy_plan(tmp_path: Path, module: Path) -> None:
    tf = FakeTerraform()
    core.provision(request(tmp_path, module, assume_yes=True), target(tmp_path), FakeDisplay(),
                   tf)
    (tmp_path / "work" / "terraform.tfstate").write_text("{}")
    (tmp_path / "work" / "main.tf").write_text("")
    tf.calls.clear()
    display = FakeDisplay()
    gone = core.destroy(request(tmp_path, None, variables={}), target(tmp_path), display, tf)
    # the module and variables of the last run; the copy in the workdir is reused as it is
    assert tf.calls == [f"runner {module} sub=sub-1", "init", "plan -destroy", "apply"]
    assert tf.planned_vars == {"location": "westeurope"}
    assert "Reusing variable(s) from the last run in" in " ".join(display.shown)
    assert display.shown.count("asked") == 1 and "plan destroy=True total=1" in display.shown
    assert gone.applied and gone.state_cleared == tmp_path / "state.json"
    assert not (tmp_path / "state.json").exists()
    assert not (tmp_path / "work" / INPUTS_FILE).exists()


def test_destroy_plan_only_and_declined_keep_the_state(tmp_path: Path, module: Path) -> None:
    tf = FakeTerraform()
    core.provision(request(tmp_path, module, assume_yes=True), target(tmp_path), FakeDisplay(),
                   tf)
    (tmp_path / "work" / "terraform.tfstate").write_text("{}")
    tf.calls.clear()
    plan_only = core.destroy(request(tmp_path, None, plan_only=True), target(tmp_path),
                             FakeDisplay(), tf)
    assert tf.calls[1:] == ["prepare", "init", "plan -destroy"]  # no .tf in the workdir: copied
    assert plan_only.plan_only and not plan_only.applied
    with pytest.raises(Interrupted):
        core.destroy(request(tmp_path, None), target(tmp_path), FakeDisplay(answer=False), tf)
    assert (tmp_path / "state.json").is_file() and (tmp_path / "work" / INPUTS_FILE).is_file()
