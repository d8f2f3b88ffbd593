"""`wi migrate --rollback`: the pre-migration state back, from wi's backups (the ConfigMap
``wi-migrate-backup`` of each namespace): first the AzureIdentityBindings wi deleted, so the
restored pods get their identity from pod identity again, then each workload's saved pod
template (a rollout). Federated credentials and service accounts stay: they are harmless, and
`wi unbind` removes them."""

from __future__ import annotations

from functools import partial

from typing import Any

from .migrate_apply import RESTORED, Runner, wait_for
from .migrate_detect import Inventory
from .migrate_plan import WorkloadPlan
from .migrate_steps import BINDING, CHECK, rollout_text
from .models import (
    POD_IDENTITY_GROUP,
    POD_IDENTITY_LABEL,
    POD_IDENTITY_VERSION,
    ResourceId,
    template_json,
)
from .plan import UNCHANGED, Step

BINDING_KEY = "azureidentitybinding."


Restore = tuple[Step, Step, str, dict[str, Any]]  # restore, rollout, namespace, backup record


def rollback_steps(inv: Inventory) -> tuple[list[Step], list[Restore], list[str]]:
    """(binding steps, [(restore step, rollout step, namespace, record)], what stays)."""
    binding_steps: list[Step] = []
    restores: list[Restore] = []
    stays: list[str] = []
    live = {(w.kind, w.namespace, w.name): w for w in inv.workloads}
    bindings = {(b.namespace, b.name) for b in inv.bindings}
    for ns, records in sorted(inv.backups.items()):
        for key, rec in sorted(records.items()):
            if key.startswith(BINDING_KEY):
                name = key[len(BINDING_KEY):]
                exists = (ns, name) in bindings
                step = Step(BINDING, f"{ns}/{name}", "keep" if exists else "create",
                            "still there" if exists else "re-created as it was")
                step.run = None
                binding_steps.append(step)
                continue
            kind, name = str(rec.get("kind") or ""), str(rec.get("name") or "")
            w = live.get((kind, ns, name))
            label = f"{ns}/{name}"
            saved = rec.get("template") or {}
            if w is None:
                restores.append((Step(kind, label, "keep", "no longer exists"),
                                 Step(kind, label, "note", ""), ns, rec))
                continue
            same = template_json(kind, w.raw) == saved
            selector = ((saved.get("metadata") or {}).get("labels") or {}).get(
                POD_IDENTITY_LABEL)
            account = (saved.get("spec") or {}).get("serviceAccountName") or "default"
            restores.append((Step(kind, label, "keep" if same else "update",
                                  "already the pre-migration template" if same else
                                  f"pod template restored ({POD_IDENTITY_LABEL}: {selector}, "
                                  f"serviceAccountName: {account})"),
                             Step(kind, label, CHECK, rollout_text(w).replace(
                                 "with the identity injected by the webhook",
                                 "back on pod identity")), ns, rec))
            sa, identity = rec.get("migrated_service_account"), rec.get("identity")
            rid = ResourceId.try_parse(identity) if identity else None
            if sa and rid:
                stays.append(f"wi unbind {sa} {identity} -n {ns}")
    return binding_steps, restores, sorted(set(stays))


def run_rollback(r: Runner, inv: Inventory, binding_steps: list[Step],
                 restores: list[Restore]) -> None:
    for step in binding_steps:
        if step.action != "create":
            step.status = UNCHANGED
            continue
        ns, name = step.name.split("/", 1)
        record = inv.backups[ns][BINDING_KEY + name]
        body = {k: v for k, v in record.items() if k in ("apiVersion", "kind", "metadata",
                                                         "spec")}
        r.run(step, partial(r.kube.create_custom_object, POD_IDENTITY_GROUP, POD_IDENTITY_VERSION,
                            "azureidentitybindings", ns, body))
    waiting: list[tuple[WorkloadPlan, Step]] = []
    for restore, check, ns, rec in restores:
        if restore.action != "update":
            restore.status = check.status = UNCHANGED
            continue
        kind, name = rec["kind"], rec["name"]
        if r.run(restore, partial(r.kube.replace_template, kind, ns, name, rec["template"])):
            w = r.kube.workload(kind, ns, name)
            if w is not None:
                waiting.append((WorkloadPlan(w, str(rec.get("selector") or "")), check))
    wait_for(r, waiting, RESTORED)
