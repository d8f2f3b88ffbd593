"""`wi provision`: apply the Terraform root module, then leave the other commands their defaults.

The sequence is plan → (confirm) → apply → outputs → state file → user kubeconfig merged. Nothing
here prints: the caller passes a :class:`Display` that shows the plan, asks for confirmation and
renders apply progress. Sensitive Terraform outputs are dropped before anything else sees them.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ContextManager, Iterator, Mapping, Protocol, Sequence

from ..adapters import terraform as tf
from . import preflight as pf
from .config import State, load_state, save_state
from .errors import ConfigError, ConflictError, Interrupted, TerraformError, UsageError

INPUTS_FILE = ".wi-inputs.json"  # module and variables of the last apply, reused by re-runs
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


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


class Display(Protocol):
    def plan(self, summary: tf.PlanSummary) -> None: ...

    def confirm(self, summary: tf.PlanSummary) -> bool: ...

    def applying(self, summary: tf.PlanSummary) -> ContextManager[tf.EventCallback]: ...

    def note(self, text: str) -> None: ...

    def diagnostics(self, errors: Sequence[tf.Diagnostic]) -> None: ...


@dataclass
class ProvisionOutcome:
    plan: tf.PlanSummary
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
            "plan": plan_json(self.plan), "plan_only": self.plan_only, "applied": self.applied, "workdir": str(self.workdir),
            "outputs": self.outputs,
            "state_path": str(self.state_path) if self.state_path else None,
            "kubeconfig": str(self.kubeconfig) if self.kubeconfig else None,
            "kube_context": self.kube_context, "next": self.next,
        }


@dataclass
class DestroyOutcome:
    plan: tf.PlanSummary
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


def plan_json(plan: tf.PlanSummary) -> dict[str, Any]:
    return {"destroy_plan": plan.destroy, "add": plan.add, "change": plan.change,
            "destroy": plan.remove, "import": plan.import_,
            "changes": [{"address": c.address, "action": c.action} for c in plan.changes],
            "warnings": [w.describe() for w in plan.warnings]}


# -- input checks (before anything changes) -------------------------------------------------------

def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _VAR_NAME.match(name):
            raise UsageError(f"--var takes NAME=VALUE, got {pair.split('=')[0]!r}.",
                             ["Example: --var location=westeurope"])
        variables[name] = value
    return variables


def check_var_files(paths: Sequence[str]) -> list[Path]:
    files = [Path(p).expanduser() for p in paths]
    for path in files:
        if not path.is_file():
            raise UsageError(f"The variables file {path} does not exist.",
                             ["Pass --var-file with the path of a .tfvars file."])
    return [p.resolve() for p in files]


def check_module(path: str | None) -> Path | None:
    if path is None:
        return None
    module = Path(path).expanduser().resolve()
    if not module.is_dir() or not any(module.glob("*.tf")) and not any(module.glob("*.tf.json")):
        raise UsageError(f"{module} is not a Terraform root module (a folder of .tf files).",
                         ["Pass --module DIR pointing at a Terraform root module, or leave it "
                          "out to use the module bundled with wi."])
    return module


def require_consent(assume_yes: bool, plan_only: bool, interactive: bool, json_mode: bool) -> None:
    """Refuse before any work when nobody can answer the confirmation prompt."""
    if assume_yes or plan_only:
        return
    if json_mode:
        raise UsageError("With -o json nobody can answer the confirmation prompt.",
                         ["pass -y to apply without a prompt (or --plan-only to only plan)"])
    if not interactive:
        raise UsageError("Standard input is not a terminal, so nobody can confirm the plan.",
                         ["pass -y to apply without a prompt (or --plan-only to only plan)"])


# -- terraform plumbing ----------------------------------------------------------------------------

def _sentence(text: str) -> str:
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


@contextmanager
def terraform_errors(display: "Display | None" = None) -> Iterator[None]:
    """The runner's own errors as WiErrors (exit 3 missing, 4 failed, 130 interrupted)."""
    try:
        yield
    except tf.TerraformMissing as exc:
        raise ConfigError(_sentence(exc.message), exc.remediation) from None
    except tf.Interrupted as exc:
        raise Interrupted(_sentence(exc.message), exc.remediation) from None
    except tf.TerraformFailed as exc:
        raise _failed(exc, display) from None
    except tf.TerraformError as exc:
        raise TerraformError(_sentence(exc.message), exc.remediation) from None


def _failed(exc: tf.TerraformFailed, display: "Display | None") -> TerraformError:
    """One sentence naming the first diagnostic; the display shows every one in full."""
    if display is not None and exc.diagnostics:
        display.diagnostics(exc.diagnostics)
    if len(exc.diagnostics) > 1:
        first = exc.diagnostics[0].describe()
        message = (f"Terraform {exc.command} failed with {len(exc.diagnostics)} errors, "
                   f"the first: {first}")
        return TerraformError(_sentence(message), exc.remediation)
    return TerraformError(_sentence(exc.message), exc.remediation)


def _read_inputs(workdir: Path) -> dict[str, Any]:
    try:
        doc = json.loads((workdir / INPUTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write_inputs(workdir: Path, module: Path, variables: Mapping[str, str],
                  var_files: Sequence[Path]) -> None:
    path = workdir / INPUTS_FILE
    path.write_text(json.dumps({"module": str(module), "vars": dict(variables),
                                "var_files": [str(p) for p in var_files]}, indent=2))
    path.chmod(0o600)  # variable values may be private


@dataclass(frozen=True)
class _Inputs:
    module: Path
    variables: dict[str, str]
    var_files: list[Path]
    reused: list[str]  # variable names taken from the last run


def _resolve_inputs(req: ProvisionRequest) -> _Inputs:
    """The request's module and variables on top of those the last run in this workdir used."""
    last = _read_inputs(req.workdir)
    recorded_module = last.get("module")
    if req.module is not None:
        module = req.module
    elif recorded_module and Path(recorded_module).is_dir():
        module = Path(recorded_module)
    else:
        with terraform_errors():
            module = tf.bundled_module_dir()
    recorded_vars = {str(k): str(v) for k, v in (last.get("vars") or {}).items()}
    variables = {**recorded_vars, **req.variables}
    files = [Path(p) for p in last.get("var_files") or [] if Path(p).is_file()]
    files += [p for p in req.var_files if p not in files]
    reused = sorted(set(recorded_vars) - set(req.variables))
    return _Inputs(module, variables, files, reused)


def _runner(req: ProvisionRequest, module: Path, target: Target) -> tf.Runner:
    runner = tf.Runner(req.workdir, module, tf.arm_env(target.subscription, target.tenant_id,
                                                       target.cloud, os.environ))
    with terraform_errors():
        _ = runner.terraform  # missing or too old: exit 3 before anything is written
    return runner


def _plan(runner: tf.Runner, inputs: _Inputs, display: Display, destroy: bool) -> tf.PlanSummary:
    if inputs.reused:
        display.note(f"Reusing variable(s) from the last run in {runner.workdir}: "
                     f"{', '.join(inputs.reused)}")
    display.note(f"Terraform module {inputs.module}, working directory {runner.workdir}")
    with terraform_errors(display):
        runner.init()
        summary = runner.plan(inputs.variables, inputs.var_files, destroy=destroy)
    display.plan(summary)
    return summary


def _confirmed(summary: tf.PlanSummary, req: ProvisionRequest, display: Display) -> None:
    if req.assume_yes or display.confirm(summary):
        return
    raise Interrupted("Cancelled: nothing was applied.",
                      ["Run the command again and answer yes, or pass -y."])


def _apply(runner: tf.Runner, summary: tf.PlanSummary, display: Display) -> None:
    with terraform_errors(display), display.applying(summary) as on_event:
        runner.apply(on_event)


# -- provision ---------------------------------------------------------------------------------------

def provision(req: ProvisionRequest, target: Target, display: Display) -> ProvisionOutcome:
    inputs = _resolve_inputs(req)
    target, report = preflight(req, inputs, target, display)  # before Terraform starts
    runner = _runner(req, inputs.module, target)
    with terraform_errors():
        runner.prepare()
    summary = _plan(runner, inputs, display, destroy=False)
    outcome = ProvisionOutcome(summary, runner.workdir, req.plan_only, preflight=report)
    if req.plan_only:
        return outcome
    if summary.has_changes:
        _confirmed(summary, req, display)
        _write_inputs(runner.workdir, inputs.module, inputs.variables, inputs.var_files)
        _apply(runner, summary, display)
        outcome.applied = True
    else:
        _write_inputs(runner.workdir, inputs.module, inputs.variables, inputs.var_files)
    with terraform_errors():
        outcome.outputs = tf.public_outputs(runner.outputs())
    _record(outcome, target, display)
    return outcome


# -- preflight (the bundled module's needs against the subscription, before Terraform) ---------------

def _is_bundled(module: Path) -> bool:
    try:
        return module.resolve() == tf.bundled_module_dir().resolve()
    except tf.TerraformError:
        return False


def preflight(req: ProvisionRequest, inputs: "_Inputs", target: Target,
              display: Display) -> tuple[Target, pf.PreflightReport]:
    """Check permissions, resource providers and region; refuse (exit 4) on anything missing.

    Only the bundled module's needs are known, so another module (--module) is not checked. With
    --plan-only the findings are shown and the plan goes on (a plan changes nothing). Returns the
    target with the subscription the check used (the only visible one when none was set)."""
    if req.skip_preflight:
        report = pf.PreflightReport(skipped="--skip-preflight was given")
    elif not _is_bundled(inputs.module):
        report = pf.PreflightReport(
            skipped=f"{inputs.module} is not the module bundled with wi, whose needs are the "
                    "only ones the preflight knows")
    else:
        target, report = _check_subscription(inputs, target, display)
    if report.skipped is None and not report.ok and not req.plan_only:
        raise pf.PreflightRefused(report)
    display.note(report.summary())
    if report.skipped is None and not report.ok:
        display.note("--plan-only goes on (a plan changes nothing), but applying it would fail: "
                     + " ".join(report.remediation()[:-1]))
    return target, report


def _check_subscription(inputs: "_Inputs", target: Target,
                        display: Display) -> tuple[Target, pf.PreflightReport]:
    from ..adapters.azure import preflight as arm
    from ..adapters.azure.clients import AzureClients
    from .cloud import resolve_cloud

    cloud = resolve_cloud(target.cloud)
    if not target.subscription:
        visible = arm.enabled_subscriptions(AzureClients(cloud, None))
        if len(visible) != 1:
            raise ConfigError(
                f"No subscription is selected and the credential sees {len(visible)} enabled "
                "subscriptions, so the preflight cannot tell which one Terraform would use.",
                ["Pass --subscription ID (or set AZURE_SUBSCRIPTION_ID)."])
        target = replace(target, subscription=visible[0])
        display.note(f"Using subscription {visible[0]}, the only one the credential can see.")
    subscription = str(target.subscription)
    azure = AzureClients(cloud, subscription)
    needs = pf.requirements(pf.module_resource_types(inputs.module))
    location = pf.resolve_location(inputs.variables, inputs.var_files, os.environ, inputs.module)
    blocks = arm.permissions_at(azure, f"/subscriptions/{subscription}")
    states = arm.provider_states(azure, subscription, needs.providers)
    regions = arm.location_names(azure, subscription) if location else None
    return target, pf.evaluate(needs, subscription, blocks, states, location, regions)


def state_from_outputs(outputs: Mapping[str, Any], target: Target) -> State:
    known = {f.name for f in fields(State)} - {"kube_context"}
    values = {name: str(outputs[name]) for name in known
              if isinstance(outputs.get(name), (str, int)) and str(outputs[name])}
    values.setdefault("subscription_id", target.subscription)
    values.setdefault("tenant_id", target.tenant_id)
    return State(**values)


def _record(outcome: ProvisionOutcome, target: Target, display: Display) -> None:
    state = state_from_outputs(outcome.outputs, target)
    save_state(target.state_file, state)  # saved before the kubeconfig: a failure there keeps it
    outcome.state, outcome.state_path = state, target.state_file
    if state.cluster_name and state.resource_group:
        context = _merge_user_kubeconfig(state, target, display)
        state.kube_context = context
        save_state(target.state_file, state)
        outcome.kubeconfig, outcome.kube_context = target.kubeconfig, context
    outcome.next = next_commands(outcome.outputs, state)


def _merge_user_kubeconfig(state: State, target: Target, display: Display) -> str:
    from ..adapters.azure.clients import AzureClients
    from ..adapters.azure.errors import azure_errors
    from ..adapters.kube.kubeconfig import merge_into_file
    from .cloud import resolve_cloud

    azure = AzureClients(resolve_cloud(target.cloud), state.subscription_id or target.subscription)
    name, group = state.cluster_name or "", state.resource_group or ""
    with azure_errors(f"fetching the user kubeconfig of AKS cluster {name}"):
        creds = azure.containerservice.managed_clusters.list_cluster_user_credentials(group, name)
    kubeconfigs = list(getattr(creds, "kubeconfigs", None) or [])
    if not kubeconfigs or not kubeconfigs[0].value:
        raise TerraformError(f"AKS returned no user kubeconfig for cluster {name}.",
                             [f"az aks get-credentials -g {group} -n {name}"])
    result = merge_into_file(target.kubeconfig, bytes(kubeconfigs[0].value))
    changed = "replaced" if f"context {result.context}" in result.replaced else "added"
    display.note(f"Kubeconfig: context {result.context} {changed} in {target.kubeconfig}"
                 + (f" (current context was {result.previous_context})"
                    if result.previous_context and result.previous_context != result.context
                    else ""))
    return result.context


def next_commands(outputs: Mapping[str, Any], state: State) -> list[str]:
    namespace = str(outputs.get("workload_namespace") or "<namespace>")
    service_account = str(outputs.get("workload_service_account") or "<service-account>")
    identity = state.identity_name or "<identity>"
    return [
        f"wi bind {service_account} {identity} -n {namespace} --create --create-namespace",
        f"wi doctor -n {namespace}",
        f"wi probe -n {namespace} --service-account {service_account}",
    ]


# -- destroy -----------------------------------------------------------------------------------------

def destroy(req: ProvisionRequest, target: Target, display: Display) -> DestroyOutcome:
    if not (req.workdir / "terraform.tfstate").is_file():
        raise ConflictError(f"There is nothing to destroy: {req.workdir} holds no Terraform state.",
                            ["Pass --workdir DIR with the directory 'wi provision' used."])
    inputs = _resolve_inputs(req)
    runner = _runner(req, inputs.module, target)
    if req.module is not None or not any(req.workdir.glob("*.tf")):
        with terraform_errors():
            runner.prepare()
    summary = _plan(runner, inputs, display, destroy=True)
    outcome = DestroyOutcome(summary, runner.workdir, req.plan_only)
    if req.plan_only:
        return outcome
    if summary.has_changes:
        _confirmed(summary, req, display)
        _apply(runner, summary, display)
        outcome.applied = True
    context = _recorded_context(target.state_file)
    outcome.state_cleared = _clear_state(target.state_file)
    (runner.workdir / INPUTS_FILE).unlink(missing_ok=True)
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

