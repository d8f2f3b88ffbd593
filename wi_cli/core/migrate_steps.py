"""`wi migrate`: the steps of each workload, in the order that keeps it working, and what
becomes of each AzureIdentityBinding at the end.

1. the federated credential and the service account (`wi bind`'s steps, once per service
   account), 2. a live token exchange for that service account, 3. the pre-migration template
saved for ``--rollback``, the template patched and its rollout waited for (new pods ready,
injected by the webhook), 4. with ``--remove-pod-identity``, the ``aadpodidbinding`` label
removed (another rollout), then each binding no workload selects any more deleted (on the AKS
add-on, the ``az aks pod-identity delete`` command instead)."""

from __future__ import annotations

from typing import Iterable

from .migrate_detect import BACKUP_CONFIGMAP, Inventory, foreign_pod, visible
from .migrate_plan import DONE, MIGRATE, Options, WorkloadPlan
from .models import POD_IDENTITY_LABEL, AksPodIdentity, AzureIdentityBinding, Workload
from .plan import Step

EXCHANGE, CHECK = "TokenExchange", "check"
BINDING = "AzureIdentityBinding"


def build_steps(plans: list[WorkloadPlan], inv: Inventory, opts: Options) -> None:
    """Give each plan its steps (not run); workloads sharing a service account share its
    credential, service account and exchange steps."""
    shared: dict[tuple[str, str], tuple[list[Step], Step]] = {}
    for p in plans:
        if not ((p.state == MIGRATE or p.prepare_only) and p.bind is not None):
            continue
        w, key = p.workload, (p.workload.namespace, p.service_account)
        if key not in shared:
            ident = p.bind.identity
            credential = [s for s in p.bind.steps if s.action != "note"]
            shared[key] = (credential, Step(
                EXCHANGE, f"{key[0]}/{key[1]}", CHECK,
                f"a token of the service account, exchanged at Entra for {ident.name} "
                f"(client id {ident.client_id})"))
        p.credential, p.exchange = shared[key]
        if p.prepare_only:
            continue
        label = f"{w.namespace}/{w.name}"
        if p.template_patch:
            if w.key not in inv.backups.get(w.namespace, {}):
                p.backup = Step("ConfigMap", f"{w.namespace}/{BACKUP_CONFIGMAP}", "update",
                                f"saves the pod template of {w.label} (for --rollback)")
            p.rollout.append(Step(w.kind, label, "update", "pod template: " +
                                  "; ".join(p.changes)))
        p.rollout.append(Step(w.kind, label, CHECK, rollout_text(w)))
        if opts.remove_pod_identity and p.removable:
            p.removal_steps = [
                Step(w.kind, label, "update", f"pod template: remove label {POD_IDENTITY_LABEL}:"
                                              f" {p.selector} (once its new pods are ready and "
                                              "their exchange works)"),
                Step(w.kind, label, CHECK, rollout_text(w) + ", without pod identity")]


def rollout_text(w: Workload) -> str:
    if w.kind == "CronJob":
        return "its next Job runs with workload identity (no pods to wait for)"
    return "rollout: new pods ready, with the identity injected by the webhook"


def aks_pod_identity(inv: Inventory, b: AzureIdentityBinding) -> AksPodIdentity | None:
    """The add-on's pod identity behind a binding (same namespace and selector)."""
    if inv.aks is None:
        return None
    return next((p for p in inv.aks.pod_identities
                 if p.namespace == b.namespace and p.binding_selector == b.selector), None)


def aks_delete_command(inv: Inventory, p: AksPodIdentity) -> str:
    assert inv.aks is not None
    return (f"az aks pod-identity delete --cluster-name {inv.aks.name} --resource-group "
            f"{inv.aks.resource_group} --namespace {p.namespace} --name {p.name}")


def still_selected(b: AzureIdentityBinding, inv: Inventory,
                   workloads: Iterable[Workload]) -> list[str]:
    """The workloads whose pods still carry the binding's selector (and that it serves)."""
    ident = inv.identity(b.namespace, b.azure_identity)
    workloads = list(workloads)
    return sorted(w.label for w in workloads
                  if w.template.metadata.labels.get(POD_IDENTITY_LABEL) == b.selector
                  and visible(b, ident, w.namespace, inv)
                  and (w.kind != "Pod" or w.controller is None or foreign_pod(w, workloads))
                  and not (w.kind == "Job" and w.controller == "CronJob")
                  and not _finished_job(w))


def _finished_job(w: Workload) -> bool:
    if w.kind != "Job":
        return False
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (w.raw.get("status") or {}).get("conditions") or [])


def binding_step(b: AzureIdentityBinding, inv: Inventory, users: list[str]) -> Step:
    """What ``--remove-pod-identity`` does with one binding, given who still selects it."""
    if users:
        return Step(BINDING, b.label, "keep", "still selected by " + ", ".join(users))
    if not inv.whole_cluster:
        return Step(BINDING, b.label, "keep", "other namespaces could not be read: it may "
                                              "still be in use there")
    aks = aks_pod_identity(inv, b)
    if aks is not None:
        return Step(BINDING, b.label, "note", "the AKS pod identity add-on owns it (it would "
                                              "re-create it): " + aks_delete_command(inv, aks))
    return Step(BINDING, b.label, "delete", f"selector {b.selector}: no workload uses it any "
                                            "more (saved for --rollback first)")


def planned_bindings(plans: list[WorkloadPlan], inv: Inventory,
                     opts: Options) -> list[tuple[AzureIdentityBinding, Step]]:
    """Each binding a migrated workload used, and its fate once this run's removals are done."""
    if not opts.remove_pod_identity:
        return []
    losing = {id(p.workload) for p in plans if p.removal_steps}
    after = [w for w in inv.workloads if id(w) not in losing]
    seen: dict[tuple[str, str], AzureIdentityBinding] = {}
    for p in plans:
        if p.state in (MIGRATE, DONE) and (p.removal_steps or p.state == DONE):
            for b in p.bindings:
                seen.setdefault((b.namespace, b.name), b)
    return [(b, binding_step(b, inv, still_selected(b, inv, after))) for b in seen.values()]
