"""`wi migrate`: move workloads from aad-pod-identity to workload identity, verified, with no
downtime: detect (:mod:`migrate_detect`), plan each workload (:mod:`migrate_plan`, with `wi
bind`'s rules for credentials and service accounts), then ``--plan`` shows it,
``--write-manifests`` writes it for GitOps (:mod:`migrate_manifests`), ``--apply`` applies it in
the order that keeps every workload working (:mod:`migrate_steps`, :mod:`migrate_apply`), and
``--rollback`` restores the saved templates (:mod:`migrate_rollback`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plan
from .errors import UsageError, WiError
from .migrate_apply import Clock, Runner, bindings, credentials, exchanges, removals, rollouts
from .migrate_detect import Inventory, detect
from .migrate_manifests import write_manifests
from .migrate_plan import DONE, MANUAL, MIGRATE, Options, WorkloadPlan, plan_workloads
from .migrate_rollback import rollback_steps, run_rollback
from .migrate_steps import build_steps, planned_bindings
from .models import POD_IDENTITY_GROUP
from .plan import Consent, Step
from .ports import Entra, ManifestFiles, PodIdentityCluster
from .trust import Ports, Target, mark_dry_run, require_kube

MODES = ("plan", "apply", "write-manifests", "rollback")
NOT_INSTALLED = (f"aad-pod-identity is not installed in this cluster (it serves no "
                 f"{POD_IDENTITY_GROUP} resources): there is nothing to migrate.")


@dataclass
class MigrateRequest:
    namespace: str | None = None  # None: every namespace (-A)
    mode: str = "plan"
    manifests_dir: Path | None = None
    options: Options = field(default_factory=Options)
    wait: float = 300.0  # for a fresh credential to be accepted
    timeout: float = 600.0  # for each rollout
    target: Target = field(default_factory=Target)

    @property
    def rerun(self) -> str:
        words = ["wi migrate", "--rollback" if self.mode == "rollback" else "--apply",
                 f"-n {self.namespace}" if self.namespace else "-A"]
        opts = self.options
        if opts.remove_pod_identity and self.mode != "rollback":
            words.append("--remove-pod-identity")
        if opts.proxy != "auto":
            words.append(f"--proxy {opts.proxy}")
        words += [f"--proxy-for {n}" for n in opts.proxy_for]
        return " ".join(words)


@dataclass
class MigratePorts:
    bind: Ports  # Azure identities, RBAC, clusters and `wi bind`'s Kubernetes side
    kube: PodIdentityCluster
    entra: Entra
    files: ManifestFiles | None = None
    clock: Clock = field(default_factory=Clock)


@dataclass
class Migration:
    request: MigrateRequest
    inventory: Inventory
    plans: list[WorkloadPlan] = field(default_factory=list)
    binding_steps: list[Step] = field(default_factory=list)
    rollback: list[Step] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # what --rollback leaves (unbind commands)
    written: list[str] = field(default_factory=list)
    message: str | None = None

    @property
    def steps(self) -> list[tuple[Step, list[str]]]:
        """Every step once, with the workloads it is for."""
        seen: dict[int, tuple[Step, list[str]]] = {}
        for p in self.plans:
            for s in p.steps:
                seen.setdefault(id(s), (s, []))[1].append(p.workload.label)
        for s in [*self.binding_steps, *self.rollback]:
            seen.setdefault(id(s), (s, []))
        return list(seen.values())

    def manual(self) -> list[dict[str, str]]:
        out = [{"what": f"AzureIdentity {i.label}", "why": f"a {i.kind_text}: wi moves "
                "managed identities only; its workloads need an app registration's federated "
                "credential instead (az ad app federated-credential create)."}
               for i in self.inventory.identities
               if not i.user_assigned and self.inventory.in_scope(i.namespace)]
        out += [{"what": p.workload.label, "why": p.manual or ""} for p in self.plans
                if p.state == MANUAL]
        return out

    def next_commands(self) -> list[str]:
        mode, inv = self.request.mode, self.inventory
        if mode == "rollback":
            return list(self.left)
        namespaces = sorted({p.workload.namespace for p in self.plans
                             if p.state in (MIGRATE, DONE)})
        if not inv.installed or not namespaces:
            return []
        if mode in ("plan", "write-manifests"):
            return [self.request.rerun]
        out = [f"wi doctor -n {ns}" for ns in namespaces]
        if mode == "apply" and not self.request.options.remove_pod_identity:
            out.append(self.request.rerun + " --remove-pod-identity")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.request.mode, "namespace": self.request.namespace,
            "installed": self.inventory.installed, "message": self.message,
            "pod_identity": self.inventory.to_json(),
            "workloads": [p.to_json() for p in self.plans],
            "bindings": [s.to_json() for s in self.binding_steps],
            "manual": self.manual(), "notes": list(self.inventory.notes),
            "steps": [{**s.to_json(), "for": labels} for s, labels in self.steps],
            "written": list(self.written), "next": self.next_commands(),
        }


class MigrationIncomplete(WiError):
    """Some workloads stopped at a failed step (pod identity still serves them)."""

    def __init__(self, result: Migration, failures: list[tuple[Step, WiError]]) -> None:
        step, cause = failures[0]
        stopped = [p.workload.label for p in result.plans if p.stopped]
        who = (f"{len(stopped)} workload{'s' if len(stopped) != 1 else ''} "
               f"({', '.join(stopped)})" if stopped else "The migration")
        super().__init__(f"{who} stopped at {step.object} {step.name}: {cause.message} Pod "
                         "identity is still in place for them.",
                         [*cause.remediation,
                          f"Run '{result.request.rerun}' again to continue: what is done is "
                          "kept."])
        self.exit_code = cause.exit_code
        self.data = result.to_json()


def validate(req: MigrateRequest) -> None:
    if req.mode not in MODES:
        raise UsageError(f"Unknown mode {req.mode!r}.", [f"Use one of: {', '.join(MODES)}."])
    if req.mode == "write-manifests" and req.manifests_dir is None:
        raise UsageError("--write-manifests needs a folder.", ["wi migrate --write-manifests "
                                                               "./migration"])
    if req.options.proxy not in ("auto", "always", "never"):
        raise UsageError(f"--proxy {req.options.proxy!r} is not auto, always or never.")
    if req.wait < 0 or req.timeout < 0:
        raise UsageError("--wait and --timeout are seconds, 0 or more.")


def migrate(req: MigrateRequest, ports: MigratePorts, consent: Consent) -> Migration:
    validate(req)
    inv = detect(ports.bind, ports.kube, req.namespace, req.target)
    result = Migration(req, inv)
    if not inv.installed:
        result.message = NOT_INSTALLED
        return result
    runner = Runner(ports.bind, ports.kube, ports.entra, req.target, req.wait, req.timeout,
                    ports.clock)
    if req.mode == "rollback":
        return _rollback(result, runner, consent)
    result.plans = plan_workloads(ports.bind, ports.kube, inv, req.options, req.target)
    build_steps(result.plans, inv, req.options)
    planned = planned_bindings(result.plans, inv, req.options)
    result.binding_steps = [step for _, step in planned]
    if req.mode in ("plan", "write-manifests"):
        mark_dry_run([s for s, _ in result.steps if s.action != "check"])
        if req.mode == "write-manifests":
            assert ports.files is not None and req.manifests_dir is not None
            result.written = write_manifests(result.plans, ports.kube, ports.files,
                                             req.manifests_dir)
        return result
    steps = [s for s, _ in result.steps]
    require_kube(ports.bind, _kube_checks(result, planned), "wi migrate")
    writing = [p for p in result.plans if any(s.writes for s in p.steps)]
    plan.confirm(steps, consent, "Migrate these workloads?",
                 [f"it migrates {len(writing)} workloads"] if len(writing) > 1 else [])
    credentials(runner, result.plans)
    exchanges(runner, result.plans)
    rollouts(runner, result.plans)
    if req.options.remove_pod_identity:
        removals(runner, result.plans)
        result.binding_steps = bindings(runner, result.plans, inv, planned)
    if runner.failures:
        raise MigrationIncomplete(result, runner.failures)
    return result


RESOURCES = {"Deployment": ("deployments", "apps"), "StatefulSet": ("statefulsets", "apps"),
             "DaemonSet": ("daemonsets", "apps"), "CronJob": ("cronjobs", "batch")}


def _kube_checks(result: Migration, planned: list[tuple[Any, Step]]
                 ) -> list[tuple[str, str, str | None, str]]:
    """What migrate itself writes in Kubernetes (`wi bind`'s own writes were checked when it
    planned), asked before any write (SelfSubjectAccessReviews, as `kubectl auth can-i`)."""
    checks: dict[tuple[str, str, str | None, str], None] = {}
    for p in result.plans:
        ns = p.workload.namespace
        if p.backup is not None:
            checks[("create", "configmaps", ns, "")] = None
            checks[("patch", "configmaps", ns, "")] = None
        if p.workload.kind in RESOURCES and (p.template_patch or p.removal_steps):
            plural, group = RESOURCES[p.workload.kind]
            checks[("patch", plural, ns, group)] = None
    for b, step in planned:
        if step.action == "delete":
            checks[("delete", "azureidentitybindings", b.namespace, POD_IDENTITY_GROUP)] = None
    return list(checks)


def _rollback(result: Migration, runner: Runner, consent: Consent) -> Migration:
    binding_steps, restores, result.left = rollback_steps(result.inventory)
    result.rollback = binding_steps + [s for r in restores for s in r[:2]]
    changing = [r for r in restores if r[0].action == "update"]
    plan.confirm(result.rollback, consent, "Restore these pod templates?",
                 [f"it restores {len(changing)} workloads"] if len(changing) > 1 else [])
    run_rollback(runner, result.inventory, binding_steps, restores)
    if runner.failures:
        raise MigrationIncomplete(result, runner.failures)
    return result
