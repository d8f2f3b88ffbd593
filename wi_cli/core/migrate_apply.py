"""`wi migrate --apply`: the steps of :mod:`migrate_steps`, phase by phase across workloads, so
every workload keeps working: credentials and service accounts, then one live token exchange
per service account (polling up to ``--wait`` while a fresh credential propagates), then the
template rollouts, then (``--remove-pod-identity``) the pod-identity labels and the bindings no
workload selects any more. A failing step stops its workload only, with pod identity in place;
a re-run reads everything again and continues."""

from __future__ import annotations

from functools import partial

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .bind import BindRequest, plan_bind
from .errors import ConflictError, RemoteError, WiError
from .migrate_detect import BACKUP_CONFIGMAP, Inventory
from .migrate_plan import WorkloadPlan
from .migrate_steps import BINDING, binding_step, still_selected
from .models import (
    IDENTITY_PROPAGATION_CODES,
    POD_IDENTITY_GROUP,
    POD_IDENTITY_LABEL,
    POD_IDENTITY_VERSION,
    PROPAGATION_CODES,
    AzureIdentityBinding,
    LabelSelector,
    Workload,
    propagation_waits,
    restart_reason,
    rollout_state,
    template_json,
)
from .plan import APPLIED, FAILED, NOT_RUN, UNCHANGED, Step
from .ports import Entra, PodIdentityCluster
from .trust import Ports, Target

BACKUP_LABELS = {"app.kubernetes.io/managed-by": "wi"}
TOKEN_SECONDS = 3600
POLL_SECONDS = 0.25


@dataclass
class Clock:
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic


@dataclass
class Runner:
    ports: Ports
    kube: PodIdentityCluster
    entra: Entra
    target: Target
    wait: float  # for a fresh credential to be accepted
    timeout: float  # for a rollout
    clock: Clock = field(default_factory=Clock)
    failures: list[tuple[Step, WiError]] = field(default_factory=list)

    def run(self, step: Step, action: Callable[[], object]) -> bool:
        """Run a step once (a shared step that already ran keeps its result)."""
        if step.status != NOT_RUN:
            return step.status != FAILED
        try:
            action()
        except WiError as exc:
            self.fail(step, exc)
            return False
        step.status = APPLIED
        return True

    def fail(self, step: Step, exc: WiError) -> None:
        step.status, step.error = FAILED, exc.message
        self.failures.append((step, exc))


def selector_text(sel: LabelSelector) -> str:
    parts = [f"{k}={v}" for k, v in sorted(sel.match_labels.items())]
    for r in sel.match_expressions:
        values = ",".join(r.values)
        parts.append({"In": f"{r.key} in ({values})", "NotIn": f"{r.key} notin ({values})",
                      "Exists": r.key, "DoesNotExist": f"!{r.key}"}.get(r.operator, r.key))
    return ",".join(parts)


# -- phase 1 and 2: credential, service account, exchange (once per service account) -------------

def _groups(plans: list[WorkloadPlan]) -> list[list[WorkloadPlan]]:
    out: dict[int, list[WorkloadPlan]] = {}
    for p in plans:
        if p.credential or p.exchange:
            out.setdefault(id(p.exchange), []).append(p)
    return list(out.values())


def credentials(r: Runner, plans: list[WorkloadPlan]) -> None:
    """`wi bind SA IDENTITY -n NS --create`, planned again now (fresh reads: a re-run keeps
    what exists, two new credentials never get one name) and applied."""
    for group in _groups(plans):
        first = group[0]
        ident = first.bind.identity if first.bind else None
        assert ident is not None
        req = BindRequest(first.service_account, str(ident.id), first.workload.namespace,
                          create=True, image_pull_secrets=first.image_pull_secrets)
        try:
            fresh = [s for s in plan_bind(req, r.ports, r.target).steps if s.action != "note"]
        except WiError as exc:
            failed = first.credential[0] if first.credential else first.exchange
            if failed is None:
                raise
            r.fail(failed, exc)
            continue
        first.credential[:] = fresh  # the list every plan of the group holds
        for step in fresh:
            if not step.writes or step.run is None:
                step.status = UNCHANGED
            elif not r.run(step, step.run):
                break


def exchanges(r: Runner, plans: list[WorkloadPlan]) -> None:
    for group in _groups(plans):
        first = group[0]
        if first.exchange is None or first.stopped or first.bind is None:
            continue
        r.run(first.exchange, partial(exchange, r, first))


def exchange(r: Runner, p: WorkloadPlan) -> None:
    """A TokenRequest for the service account, traded at Entra as its pods' SDK will, retried
    while Entra does not see the fresh credential yet (up to ``--wait``)."""
    assert p.bind is not None
    ident, ref = p.bind.identity, p.ref
    token = r.kube.request_token(ref, p.bind.audience, TOKEN_SECONDS)
    answer = r.entra.exchange(ident.tenant_id, ident.client_id, token)
    waited = 0.0
    for pause in propagation_waits(r.wait):
        if answer.claims is not None or not _propagating(answer.code):
            break
        r.clock.sleep(pause)
        waited += pause
        answer = r.entra.exchange(ident.tenant_id, ident.client_id, token)
    if answer.claims is not None:
        return
    said = answer.message or answer.code or "no answer"
    waiting = f" after waiting {int(waited)} s" if waited else ""
    raise RemoteError(f"Entra refused the token of service account {ref.label} for "
                      f"{ident.name}{waiting}: {said}",
                      ["A new federated credential can take minutes to reach Entra: run the "
                       "same command again (it continues), or give it longer with --wait.",
                       f"'wi doctor -n {ref.namespace} --service-account {ref.name}' shows "
                       "which link is broken."])


def _propagating(code: str | None) -> bool:
    if not code:
        return False
    code = "AADSTS" + code.upper().removeprefix("AADSTS")
    return code in PROPAGATION_CODES or code in IDENTITY_PROPAGATION_CODES


# -- phase 3 and 4: templates and rollouts --------------------------------------------------------

def backup_record(p: WorkloadPlan) -> dict[str, Any]:
    w = p.workload
    return {"kind": w.kind, "name": w.name, "template": template_json(w.kind, w.raw),
            "service_account": w.service_account, "selector": p.selector,
            "bindings": [b.label for b in p.bindings],
            "identity": p.identity.resource_id if p.identity else None,
            "migrated_service_account": p.service_account,
            "saved_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def rollouts(r: Runner, plans: list[WorkloadPlan]) -> None:
    waiting: list[tuple[WorkloadPlan, Step]] = []
    for p in plans:
        if not p.rollout or p.stopped:
            continue
        w = p.workload
        if p.backup is not None and not r.run(p.backup, partial(
                r.kube.save_config_map, w.namespace, BACKUP_CONFIGMAP,
                {p.workload.key: json.dumps(backup_record(p))}, BACKUP_LABELS)):
            continue
        patch, check = (p.rollout[0], p.rollout[1]) if len(p.rollout) == 2 else (None,
                                                                                 p.rollout[0])
        if patch is not None and not r.run(patch, partial(
                r.kube.patch_template, p.workload.kind, p.workload.namespace, p.workload.name,
                p.template_patch)):
            continue
        waiting.append((p, check))
    wait_for(r, waiting, MIGRATED)


def removals(r: Runner, plans: list[WorkloadPlan]) -> None:
    waiting: list[tuple[WorkloadPlan, Step]] = []
    for p in plans:
        before = p.steps[:len(p.steps) - len(p.removal_steps)]
        if not p.removal_steps or p.stopped or any(s.status == NOT_RUN for s in before):
            continue  # only once its new pods are ready and their exchange works
        w = p.workload
        if r.run(p.removal_steps[0], partial(
                r.kube.patch_template, w.kind, w.namespace, w.name,
                {"metadata": {"labels": {POD_IDENTITY_LABEL: None}}})):
            waiting.append((p, p.removal_steps[1]))
    wait_for(r, waiting, REMOVED)


MIGRATED, REMOVED, RESTORED = "migrated", "removed", "restored"  # what the new pods must be


def wait_for(r: Runner, items: list[tuple[WorkloadPlan, Step]], expect: str) -> None:
    """Poll each workload until its rollout is done and its pods are as ``expect``ed, or
    until --timeout."""
    deadline = r.clock.now() + r.timeout
    pending = list(items)
    while pending:
        left = []
        for p, step in pending:
            w = r.kube.workload(p.workload.kind, p.workload.namespace, p.workload.name)
            if w is None:
                r.fail(step, ConflictError(f"{p.workload.label} was deleted during the "
                                           "migration."))
                continue
            why = _not_ready(r, p, w, expect)
            if why is None:
                step.status = APPLIED
            elif r.clock.now() >= deadline:
                r.fail(step, RemoteError(
                    f"{w.label} did not finish its rollout within {int(r.timeout)} s: {why}.",
                    [f"Check 'kubectl rollout status {w.kind.lower()}/{w.name} -n "
                     f"{w.namespace}' and the pods' events; pod identity is still in place.",
                     "Run the same command again to continue, or 'wi migrate --rollback' to "
                     "restore the template."]))
            else:
                left.append((p, step))
        pending = left
        if pending:
            r.clock.sleep(POLL_SECONDS)


def _not_ready(r: Runner, p: WorkloadPlan, w: Workload, expect: str) -> str | None:
    done, why = rollout_state(w)
    if not done:
        return why
    if w.kind == "CronJob" or w.selector is None:
        return None
    client_id = p.bind.identity.client_id if p.bind else ""
    for pod in r.kube.pods_selected(w.namespace, selector_text(w.selector)):
        if pod.metadata.deletion_timestamp or pod.status.phase in ("Succeeded", "Failed"):
            continue
        name, labels = pod.metadata.name, pod.metadata.labels
        if expect == RESTORED:
            if p.selector and labels.get(POD_IDENTITY_LABEL) != p.selector:
                return f"pod {name} does not carry {POD_IDENTITY_LABEL}: {p.selector} yet"
        else:
            reason = restart_reason(pod, client_id, False)
            if reason:
                return f"pod {name}: {reason}"
        if expect == REMOVED and labels.get(POD_IDENTITY_LABEL):
            return f"pod {name} still carries {POD_IDENTITY_LABEL}"
        if not (pod.status.phase == "Running" and pod.status.container_statuses
                and all(c.ready for c in pod.status.container_statuses)):
            return f"pod {pod.metadata.name} is not ready"
    return None


# -- the bindings ---------------------------------------------------------------------------------

def binding_manifest(b: AzureIdentityBinding) -> dict[str, Any]:
    spec: dict[str, Any] = {"azureIdentity": b.azure_identity, "selector": b.selector}
    if b.weight is not None:
        spec["weight"] = b.weight
    return {"apiVersion": f"{POD_IDENTITY_GROUP}/{POD_IDENTITY_VERSION}",
            "kind": "AzureIdentityBinding",
            "metadata": {"name": b.name, "namespace": b.namespace}, "spec": spec}


def bindings(r: Runner, plans: list[WorkloadPlan], inv: Inventory,
             planned: list[tuple[AzureIdentityBinding, Step]]) -> list[Step]:
    """Decide again on what the cluster holds now, then delete what nothing selects."""
    if not planned:
        return []
    try:
        now = r.kube.workloads(None if inv.whole_cluster else inv.namespace)
    except WiError as exc:
        step = Step(BINDING, "(all)", "delete", "")
        r.fail(step, exc)
        return [step]
    stopped = {id(p.workload) for p in plans if p.stopped}
    steps = []
    for b, _ in planned:
        users = still_selected(b, inv, now)
        step = binding_step(b, inv, users)
        if step.action == "delete" and any(id(p.workload) in stopped for p in plans
                                           if b in p.bindings):
            step = Step(BINDING, b.label, "keep", "a workload it serves did not finish")
        steps.append(step)
        if step.action != "delete":
            step.status = UNCHANGED
            continue

        def delete(b: AzureIdentityBinding = b) -> None:
            r.kube.save_config_map(b.namespace, BACKUP_CONFIGMAP,
                                   {f"azureidentitybinding.{b.name}":
                                    json.dumps(binding_manifest(b))}, BACKUP_LABELS)
            r.kube.delete_custom_object(POD_IDENTITY_GROUP, POD_IDENTITY_VERSION,
                                        "azureidentitybindings", b.namespace, b.name)
        r.run(step, delete)
    return steps
