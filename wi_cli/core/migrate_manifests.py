"""`wi migrate --write-manifests DIR`: the patched objects for GitOps, instead of applying them.

One YAML file per object, ``DIR/NAMESPACE/KIND-NAME.yaml``: each service account as it will be
(annotated with the identity's client id and tenant id; a new one with the old one's
imagePullSecrets) and each workload with its migrated pod template, stripped of what the API
server owns (status, uid, resourceVersion...). The federated credentials are Azure objects: they
go to ``DIR/federated-credentials.sh`` as ``az identity federated-credential create`` commands.
Nothing is written to the cluster or to Azure."""

from __future__ import annotations

import copy
import shlex
from pathlib import Path
from typing import Any

from .migrate_plan import MIGRATE, WorkloadPlan
from .models import WI_CLIENT_ID, WI_TENANT_ID, nest
from .ports import ManifestFiles, PodIdentityCluster

SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "selfLink",
                 "managedFields", "deletionTimestamp", "ownerReferences")
SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",
                      "deployment.kubernetes.io/revision",
                      "deprecated.daemonset.template.generation")
JOB_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
              "batch.kubernetes.io/job-name")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what the API server applies for merge-patch+json)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in meta.items() if k not in SERVER_FIELDS}
    notes = {k: v for k, v in (meta.get("annotations") or {}).items()
             if k not in SERVER_ANNOTATIONS}
    if notes:
        meta["annotations"] = notes
    else:
        meta.pop("annotations", None)
    return meta


def workload_manifest(p: WorkloadPlan) -> dict[str, Any]:
    w = p.workload
    doc = merge_patch(w.raw, nest(w.kind, p.template_patch))
    doc.pop("status", None)
    doc["metadata"] = _clean_meta(doc.get("metadata") or {})
    if w.kind == "Job":  # the API server generates a Job's selector and these labels
        (doc.get("spec") or {}).pop("selector", None)
        labels = ((doc.get("spec") or {}).get("template") or {}).get("metadata", {}).get(
            "labels") or {}
        for key in JOB_LABELS:
            labels.pop(key, None)
    if w.kind == "Pod":
        spec = doc.get("spec") or {}
        spec.pop("nodeName", None)
    return doc


def service_account_manifest(p: WorkloadPlan, kube: PodIdentityCluster) -> dict[str, Any]:
    assert p.bind is not None
    ident = p.bind.identity
    current = next((sa for sa in kube.service_accounts(p.workload.namespace)
                    if sa.metadata.name == p.service_account), None)
    meta: dict[str, Any] = {"name": p.service_account, "namespace": p.workload.namespace}
    annotations = dict(current.metadata.annotations) if current else {}
    annotations.update({WI_CLIENT_ID: ident.client_id, WI_TENANT_ID: ident.tenant_id})
    labels = dict(current.metadata.labels) if current else {}
    if labels:
        meta["labels"] = labels
    meta["annotations"] = {k: v for k, v in annotations.items() if k not in SERVER_ANNOTATIONS}
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
    pulls = [r.name for r in current.image_pull_secrets] if current else \
        list(p.image_pull_secrets)
    if pulls:
        doc["imagePullSecrets"] = [{"name": n} for n in pulls if n]
    return doc


def credential_commands(plans: list[WorkloadPlan]) -> list[str]:
    seen, lines = set(), []
    for p in plans:
        if p.bind is None or not (p.state == MIGRATE or p.prepare_only):
            continue
        ident = p.bind.identity
        for step in p.bind.steps:
            if step.object != "FederatedIdentityCredential" or not step.writes:
                continue
            key = (str(ident.id).lower(), step.name)
            if key in seen:
                continue
            seen.add(key)
            lines.append(" ".join([
                "az identity federated-credential create", "--name", shlex.quote(step.name),
                "--identity-name", shlex.quote(ident.name), "--resource-group",
                shlex.quote(ident.resource_group), "--subscription", ident.subscription,
                "--issuer", shlex.quote(p.bind.issuers[0]), "--subject",
                shlex.quote(p.bind.subject), "--audiences", shlex.quote(p.bind.audience)]))
    return lines


def write_manifests(plans: list[WorkloadPlan], kube: PodIdentityCluster, files: ManifestFiles,
                    folder: Path) -> list[str]:
    """Write the files; returns their paths."""
    written: list[str] = []
    accounts: set[tuple[str, str]] = set()
    for p in plans:
        if p.bind is None or not (p.state == MIGRATE or p.prepare_only):
            continue
        ns = p.workload.namespace
        if (ns, p.service_account) not in accounts:
            accounts.add((ns, p.service_account))
            written.append(str(files.write(folder, f"{ns}/serviceaccount-{p.service_account}"
                                                   ".yaml", [service_account_manifest(p, kube)])))
        written.append(str(files.write(folder, f"{ns}/{p.workload.kind.lower()}-"
                                               f"{p.workload.name}.yaml",
                                       [workload_manifest(p)])))
    commands = credential_commands(plans)
    if commands:
        text = ("#!/bin/sh\n# The federated identity credentials the migrated service accounts "
                "need (wi migrate --write-manifests).\nset -e\n" + "\n".join(commands) + "\n")
        written.append(str(files.write_text(folder, "federated-credentials.sh", text)))
    return written
