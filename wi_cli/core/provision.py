"""`wi provision`: apply the Terraform root module, then leave the other commands their defaults.

The sequence is plan → (confirm) → apply → outputs → state file → user kubeconfig merged;
`--destroy` walks the same plan → confirm → apply path with a destroy plan, then clears the state
file. Nothing here prints: the caller passes a :class:`Display` that shows the plan, asks for
confirmation and renders apply progress, and a :class:`Terraform` (the adapter) that runs it.
Sensitive Terraform outputs are dropped before anything else sees them.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Mapping, Protocol, Sequence

from . import preflight as pf
from .config import State, load_state, save_state
from .errors import ConfigError, ConflictError, Interrupted, TerraformError, WiError
from .ports import ArmAccount, Kubeconfigs
from .provision_inputs import INPUTS_FILE, Inputs, resolve_inputs, write_inputs


@dataclass(frozen=True)
class ProvisionRequest:
    variables: dict[str, str]
    var_files: list[Path]
    workdir: Path
    module: Path | None = None
    plan_only: bool = False
    assume_yes: bool = False
    skip_preflight: bool = False


@dataclass(frozen=True)
class Target:
    """Where the results go and which Azure account Terraform and wi talk to."""

    cloud: str
    subscription: str | None
    tenant_id: str | None
    kubeconfig: Path
    state_file: Path
    env: Mapping[str, str] = field(default_factory=dict)  # the settings' environment


# -- the ports (adapters.terraform implements them; cli/wiring.py builds one) ---------------------

class PlannedChange(Protocol):
    @property
    def address(self) -> str: ...
    @property
    def action(self) -> str: ...


class Diagnostic(Protocol):
    def describe(self) -> str: ...


class Plan(Protocol):
    """What a saved Terraform plan will do."""

    @property
    def destroy(self) -> bool: ...
    @property
    def add(self) -> int: ...
    @property
    def change(self) -> int: ...
    @property
    def remove(self) -> int: ...
    @property
    def import_(self) -> int: ...
    @property
    def changes(self) -> Sequence[PlannedChange]: ...
    @property
    def warnings(self) -> Sequence[Diagnostic]: ...
    @property
    def has_changes(self) -> bool: ...
    @property
    def total(self) -> int: ...


class Output(Protocol):
    @property
    def value(self) -> Any: ...
    @property
    def sensitive(self) -> bool: ...


class TerraformRunner(Protocol):
    """One working directory; every failure is a WiError (exit 4, or 130 when interrupted)."""

    @property
    def workdir(self) -> Path: ...
    def prepare(self) -> Path: ...
    def init(self) -> None: ...
    def plan(self, vars: Mapping[str, str], var_files: Sequence[Path], destroy: bool) -> Plan: ...
    def apply(self, on_event: Callable[[Any], None]) -> object: ...
    def outputs(self) -> Mapping[str, Output]: ...


class Terraform(Protocol):
    def bundled_module(self) -> Path: ...

    def runner(self, workdir: Path, module: Path, *, subscription: str | None,
               tenant_id: str | None, cloud: str | None) -> TerraformRunner:
        """Raises (exit 3) when terraform is missing or too old, before anything is written."""
        ...


class Display(Protocol):
    def plan(self, summary: Plan) -> None: ...

    def confirm(self, summary: Plan) -> bool: ...

    def applying(self, summary: Plan) -> ContextManager[Callable[[Any], None]]: ...

    def note(self, text: str) -> None: ...

    def failed(self, error: TerraformError) -> None:
        """Show what the error's one sentence leaves out (every Terraform diagnostic)."""
        ...


# -- outcomes ----------------------------------------------------------------------------------------

@dataclass
class ProvisionOutcome:
    plan: Plan
    workdir: Path
    plan_only: bool = False
    applied: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    state: State | None = None
    state_path: Path | None = None
    kubeconfig: Path | None = None
    kube_context: str | None = None
    next: list[str] = field(default_factory=list)
    preflight: pf.PreflightReport | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "preflight": self.preflight.to_json() if self.preflight else None,
            "plan": plan_json(self.plan), "plan_only": self.plan_only, "applied": self.applied,
            "workdir": str(self.workdir),
            "outputs": self.outputs,
            "state_path": str(self.state_path) if self.state_path else None,
            "kubeconfig": str(self.kubeconfig) if self.kubeconfig else None,
            "kube_context": self.kube_context, "next": self.next,
        }


@dataclass
class DestroyOutcome:
    plan: Plan
    workdir: Path
    plan_only: bool = False
    applied: bool = False
    state_cleared: Path | None = None
    next: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"plan": plan_json(self.plan), "plan_only": self.plan_only, "applied": self.applied,
                "workdir": str(self.workdir),
                "state_cleared": str(self.state_cleared) if self.state_cleared else None,
                "next": self.next}


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"destroy_plan": plan.destroy, "add": plan.add, "change": plan.change,
            "destroy": plan.remove, "import": plan.import_,
            "changes": [{"address": c.address, "action": c.action} for c in plan.changes],
            "warnings": [w.describe() for w in plan.warnings]}


# -- plan → confirm → apply, for provision and destroy alike ---------------------------------------

@dataclass
class _Run:
    runner: TerraformRunner
    plan: Plan
    applied: bool = False


@contextmanager
def _showing_failures(display: Display) -> Iterator[None]:
    try:
        yield
    except TerraformError as exc:
        display.failed(exc)
        raise


def _plan_confirm_apply(req: ProvisionRequest, inputs: Inputs, target: Target,
                        display: Display, terraform: Terraform, *, destroy: bool, prepare: bool,
                        accepted: Callable[[Path], None] | None = None) -> _Run:
    """Plan (a destroy plan with ``destroy``), stop there with --plan-only, confirm, apply.

    ``accepted`` runs once the plan is accepted (confirmed, or nothing to change), before the
    apply; ``prepare`` copies the module into the working directory first."""
    runner = terraform.runner(req.workdir, inputs.module, subscription=target.subscription,
                              tenant_id=target.tenant_id, cloud=target.cloud)
    if prepare:
        runner.prepare()
    if inputs.reused:
        display.note(f"Reusing variable(s) from the last run in {runner.workdir}: "
                     f"{', '.join(inputs.reused)}")
    display.note(f"Terraform module {inputs.module}, working directory {runner.workdir}")
    with _showing_failures(display):
        runner.init()
        run = _Run(runner, runner.plan(inputs.variables, inputs.var_files, destroy=destroy))
    display.plan(run.plan)
    if req.plan_only:
        return run
    if run.plan.has_changes and not (req.assume_yes or display.confirm(run.plan)):
        raise Interrupted("Cancelled: nothing was applied.",
                          ["Run the command again and answer yes, or pass -y."])
    if accepted is not None:
        accepted(runner.workdir)
    if run.plan.has_changes:
        with _showing_failures(display), display.applying(run.plan) as on_event:
            runner.apply(on_event)
        run.applied = True
    return run


# -- provision ---------------------------------------------------------------------------------------

def provision(req: ProvisionRequest, target: Target, display: Display,
              terraform: Terraform, azure: ArmAccount | None = None,
              kubeconfigs: Kubeconfigs | None = None) -> ProvisionOutcome:
    """``azure``: the preflight's reads and the user kubeconfig (None: neither is possible, e.g.
    a module that creates no cluster, checked with --skip-preflight)."""
    inputs = resolve_inputs(req.workdir, req.module, req.variables, req.var_files,
                            terraform.bundled_module)
    target, report = preflight(req, inputs, target, display, terraform, azure)
    run = _plan_confirm_apply(req, inputs, target, display, terraform, destroy=False,
                              prepare=True, accepted=lambda workdir: write_inputs(workdir, inputs))
    outcome = ProvisionOutcome(run.plan, run.runner.workdir, req.plan_only, run.applied,
                               preflight=report)
    if req.plan_only:
        return outcome
    outcome.outputs = {name: out.value for name, out in run.runner.outputs().items()
                       if not out.sensitive}
    _record(outcome, target, display, azure, kubeconfigs)
    return outcome


# -- preflight (the bundled module's needs against the subscription, before Terraform) ---------------

def _is_bundled(module: Path, terraform: Terraform) -> bool:
    try:
        return module.resolve() == terraform.bundled_module().resolve()
    except WiError:
        return False


def preflight(req: ProvisionRequest, inputs: Inputs, target: Target, display: Display,
              terraform: Terraform,
              azure: ArmAccount | None) -> tuple[Target, pf.PreflightReport]:
    """Check permissions, resource providers and region; refuse (exit 4) on anything missing.

    Only the bundled module's needs are known, so another module (--module) is not checked. With
    --plan-only the findings are shown and the plan goes on (a plan changes nothing). Returns the
    target with the subscription the check used (the only visible one when none was set)."""
    if req.skip_preflight:
        report = pf.PreflightReport(skipped="--skip-preflight was given")
    elif not _is_bundled(inputs.module, terraform):
        report = pf.PreflightReport(
            skipped=f"{inputs.module} is not the module bundled with wi, whose needs are the "
                    "only ones the preflight knows")
    elif azure is None:
        report = pf.PreflightReport(skipped="no Azure account to read")
    else:
        target, report = _check_subscription(inputs, target, display, azure)
    if report.skipped is None and not report.ok and not req.plan_only:
        raise pf.PreflightRefused(report)
    display.note(report.summary())
    if report.skipped is None and not report.ok:
        display.note("--plan-only goes on (a plan changes nothing), but applying it would fail: "
                     + " ".join(report.remediation()[:-1]))
    return target, report


def _check_subscription(inputs: Inputs, target: Target, display: Display,
                        azure: ArmAccount) -> tuple[Target, pf.PreflightReport]:
    if not target.subscription:
        visible = azure.visible_subscriptions()
        if len(visible) != 1:
            raise ConfigError(
                f"No subscription is selected and the credential sees {len(visible)} enabled "
                "subscriptions, so the preflight cannot tell which one Terraform would use.",
                ["Pass --subscription ID (or set AZURE_SUBSCRIPTION_ID)."])
        target = replace(target, subscription=visible[0])
        display.note(f"Using subscription {visible[0]}, the only one the credential can see.")
    subscription = str(target.subscription)
    needs = pf.requirements(pf.module_resource_types(inputs.module))
    location = pf.resolve_location(inputs.variables, inputs.var_files, target.env,
                                   inputs.module)
    blocks = azure.permissions_at(subscription, f"/subscriptions/{subscription}")
    states = azure.provider_states(subscription, needs.providers)
    regions = azure.location_names(subscription) if location else None
    return target, pf.evaluate(needs, subscription, blocks, states, location, regions)


# -- after the apply: the state file, the user kubeconfig, what to run next --------------------------

def state_from_outputs(outputs: Mapping[str, Any], target: Target) -> State:
    known = {f.name for f in fields(State)} - {"kube_context"}
    values: dict[str, str | None] = {name: str(outputs[name]) for name in known
              if isinstance(outputs.get(name), (str, int)) and str(outputs[name])}
    values.setdefault("subscription_id", target.subscription)
    values.setdefault("tenant_id", target.tenant_id)
    return State(**values)


def _record(outcome: ProvisionOutcome, target: Target, display: Display,
            azure: ArmAccount | None, kubeconfigs: Kubeconfigs | None) -> None:
    state = state_from_outputs(outcome.outputs, target)
    save_state(target.state_file, state)  # saved before the kubeconfig: a failure there keeps it
    outcome.state, outcome.state_path = state, target.state_file
    if state.cluster_name and state.resource_group and azure and kubeconfigs:
        context = _merge_user_kubeconfig(state, target, display, azure, kubeconfigs)
        state.kube_context = context
        save_state(target.state_file, state)
        outcome.kubeconfig, outcome.kube_context = target.kubeconfig, context
    outcome.next = next_commands(outcome.outputs, state)


def _merge_user_kubeconfig(state: State, target: Target, display: Display, azure: ArmAccount,
                           kubeconfigs: Kubeconfigs) -> str:
    name, group = state.cluster_name or "", state.resource_group or ""
    incoming = azure.user_kubeconfig(str(state.subscription_id or target.subscription), group,
                                     name)
    result = kubeconfigs.merge(target.kubeconfig, incoming)
    changed = "replaced" if f"context {result.context}" in result.replaced else "added"
    display.note(f"Kubeconfig: context {result.context} {changed} in {target.kubeconfig}"
                 + (f" (current context was {result.previous_context})"
                    if result.previous_context and result.previous_context != result.context
                    else ""))
    return result.context


def next_commands(outputs: Mapping[str, Any], state: State) -> list[str]:
    namespace = str(outputs.get("workload_namespace") or "NAMESPACE")
    service_account = str(outputs.get("workload_service_account") or "SERVICE_ACCOUNT")
    identity = state.identity_name or "IDENTITY"
    return [
        f"wi bind {service_account} {identity} -n {namespace} --create --create-namespace",
        f"wi doctor -n {namespace}",
        f"wi probe -n {namespace} --service-account {service_account}",
    ]


# -- destroy -----------------------------------------------------------------------------------------

def destroy(req: ProvisionRequest, target: Target, display: Display,
            terraform: Terraform) -> DestroyOutcome:
    if not (req.workdir / "terraform.tfstate").is_file():
        raise ConflictError(f"There is nothing to destroy: {req.workdir} holds no Terraform state.",
                            ["Pass --workdir DIR with the directory 'wi provision' used."])
    inputs = resolve_inputs(req.workdir, req.module, req.variables, req.var_files,
                            terraform.bundled_module)
    fresh_copy = req.module is not None or not any(req.workdir.glob("*.tf"))
    run = _plan_confirm_apply(req, inputs, target, display, terraform, destroy=True,
                              prepare=fresh_copy)
    outcome = DestroyOutcome(run.plan, run.runner.workdir, req.plan_only, run.applied)
    if req.plan_only:
        return outcome
    context = _recorded_context(target.state_file)
    outcome.state_cleared = _clear_state(target.state_file)
    (run.runner.workdir / INPUTS_FILE).unlink(missing_ok=True)
    if context:
        outcome.next = [f"kubectl config delete-context {context} --kubeconfig {target.kubeconfig}"]
    return outcome


def _recorded_context(path: Path) -> str | None:
    try:
        state = load_state(path)
    except ConfigError:
        return None
    return state.kube_context if state else None


def _clear_state(path: Path) -> Path | None:
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"Cannot delete the state file {path}: {exc.strerror}.",
                          [f"Delete {path} by hand."]) from None
    return path
