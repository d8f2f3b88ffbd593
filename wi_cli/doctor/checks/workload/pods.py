"""Workload checks of the pods: the label the webhook selects them by, what it injected, and
what in the pod spec undoes it (variables that shadow the identity, skipped containers, a token
path hard-coded from another webhook version)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ....core.models import WI_USE_LABEL, Container, Pod, PodSpec, Target
from ...facts.workloads import EnvSources, Workload
from ...registry import Report, check
from ...targets import of_pod, of_workload
from .common import (
    AUDIENCE,
    DOCS,
    PROXY_CONTAINERS,
    SHADOWING,
    SKIP_CONTAINERS,
    TOKEN_FILES,
    WorkloadView,
    client_id_set_by_user,
    containers,
    edit_pod,
    env_entry,
    finished,
    patch_template,
    pointer,
    recreate_pod,
    remove_template_annotation,
    skipped_containers,
)

# -- the pod label ---------------------------------------------------------------------------------


def _label_fix(w: Workload) -> list[str]:
    if w.is_deployment:
        return [patch_template(w, {"metadata": {"labels": {WI_USE_LABEL: "true"}}})]
    return [f"kubectl label pod {w.name} -n {w.namespace} {WI_USE_LABEL}=true --overwrite",
            recreate_pod(w.namespace, w.name)]


def _label_problem(w: Workload, sa_labelled: bool) -> str:
    if WI_USE_LABEL in w.labels:
        return (f"its {WI_USE_LABEL} label is {w.labels[WI_USE_LABEL]!r}, not \"true\" "
                "(the webhook's objectSelector matches the exact string)")
    if w.is_deployment and WI_USE_LABEL in w.own_labels:
        return ("the label is on the Deployment's metadata, not on its pod template, and the "
                "webhook looks at the pod's labels")
    if sa_labelled:
        return ("the label is on the service account only (the pre-1.0 contract); since v1.0 "
                "the webhook looks at the pod's labels")
    return f"its pods lack the label {WI_USE_LABEL}: \"true\""


@check("workload.pod-label", "Pods labelled for workload identity", layer="workload",
       failure_modes=(1, 2), docs=DOCS)
def pod_label(report: Report, workload_view: WorkloadView) -> None:
    view = workload_view
    for ns, sa, obj in view.existing():
        workloads = view.workloads_of(ns, sa)
        if not workloads:
            report.skip(f"{ns}/{sa}: no pod or Deployment uses it yet.")
            continue
        meta = obj.metadata
        sa_labelled = WI_USE_LABEL in meta.labels or WI_USE_LABEL in meta.annotations
        for w in workloads:
            report = report.about(of_workload(w))
            if w.labels.get(WI_USE_LABEL) == "true":
                report.ok(f"{w.ref} (service account {sa}) is labelled {WI_USE_LABEL}=true.")
                continue
            fix = ("Add the label to the pod template; the Deployment rolls out new pods."
                   if w.is_deployment else
                   "Label the pod and re-create it: the webhook only mutates pods as they are "
                   "created.")
            report.fail(f"{w.ref} uses service account {ns}/{sa} but "
                        f"{_label_problem(w, sa_labelled)}: it gets "
                        "no token file and no AZURE_* variables.",
                        expected={WI_USE_LABEL: "true"},
                        actual={"pod labels": w.labels.get(WI_USE_LABEL),
                                **({"deployment labels": w.own_labels.get(WI_USE_LABEL)}
                                   if w.is_deployment else {}),
                                "service account labels": meta.labels.get(WI_USE_LABEL)},
                        fix=fix, commands=_label_fix(w))


# -- what the webhook injected ---------------------------------------------------------------------

def _has_token_volume(spec: PodSpec) -> bool:
    return any(source.service_account_token is not None
               and source.service_account_token.audience == AUDIENCE
               for volume in spec.volumes if volume.projected
               for source in volume.projected.sources)


def _stale_client_ids(view: WorkloadView, pod: Pod, targets: list[Container],
                      want: str | None) -> dict[str, str | None]:
    """Containers whose webhook-injected AZURE_CLIENT_ID differs from the SA annotation."""
    stale: dict[str, str | None] = {}
    for c in targets:
        entry = env_entry(c, "AZURE_CLIENT_ID")
        if entry is not None and client_id_set_by_user(c, view.template_container(pod, c.name)):
            continue  # the user's own value: workload.env-shadowing reports it
        have = (entry.value or "").lower() if entry is not None else None
        if want and have != want:
            stale[c.name] = have
    return stale


@check("workload.injection", "Pods carry the injected token and env", layer="workload",
       failure_modes=(6, 5, 24, 34), docs=DOCS)
def injection(report: Report, workload_view: WorkloadView) -> None:
    view = workload_view
    for pod in view.labelled_pods():
        report = report.about(of_pod(pod))
        ns, name, sa = pod.metadata.namespace or "", pod.metadata.name, pod.spec.service_account
        where = f"pod {ns}/{name}"
        skipped = skipped_containers(pod.metadata.annotations)
        targets = [c for c in containers(pod.spec)
                   if c.name not in skipped and c.name not in PROXY_CONTAINERS]
        injected = [c for c in targets if env_entry(c, "AZURE_FEDERATED_TOKEN_FILE")]
        again = view.restart([pod])
        want = view.sa_client_id(ns, sa)
        done = finished(pod)
        if done and (not injected or _stale_client_ids(view, pod, injected, want)):
            report.ok(f"{where} finished ({done}) before the current settings: it is "
                      "history, and the next run picks up the change.")
            continue
        if not injected and not _has_token_volume(pod.spec):
            report.fail(f"{where} is labelled but was never mutated (no token volume, no "
                        "AZURE_* variables): it was created while the webhook was missing or "
                        "down (failurePolicy Ignore), or before it was labelled.",
                        expected="AZURE_FEDERATED_TOKEN_FILE and the projected token volume",
                        actual="neither", fix="Re-create the pod now that the webhook works.",
                        commands=again)
            continue
        missing = [c.name for c in targets if c not in injected]
        if missing:
            report.fail(f"{where}: containers {', '.join(missing)} got no AZURE_* variables "
                        "while others did: they were added after the webhook ran (another "
                        "webhook's sidecar, reinvocationPolicy) or the pod was edited.",
                        expected="every container not in skip-containers", actual=missing,
                        fix="Upgrade the webhook (reinvocationPolicy IfNeeded) and re-create "
                            "the pod.", commands=again)
            continue
        stale = _stale_client_ids(view, pod, injected, want)
        if stale:
            report.fail(f"{where}: AZURE_CLIENT_ID does not match {ns}/{sa}'s client-id: the pod "
                        "was created before the service account was annotated or changed (the "
                        "webhook copies the value only when the pod is created).",
                        expected=want, actual=stale, fix="Restart the pod.", commands=again)
            continue
        report.ok(f"{where}: token volume and AZURE_* variables present"
                  f"{f', AZURE_CLIENT_ID {want}' if want else ''}.")


# -- credentials that win over workload identity ---------------------------------------------------

def _drop_env(w: Workload, container: Container, name: str) -> str:
    if w.is_deployment:
        return (f"kubectl set env deployment/{w.name} -n {w.namespace} -c {container.name} "
                f"{name}-")
    field = "initContainers" if container in w.spec.init_containers else "containers"
    return edit_pod(w.namespace, w.name, f'(.spec.{field}[] | select(.name=="{container.name}")'
                                         f' | .env) |= map(select(.name != "{name}"))')


@dataclass(frozen=True)
class Shadow:
    """A variable that makes DefaultAzureCredential sign in with something else."""

    container: str
    variable: str
    source: str  # "env" | "Secret NAME (envFrom)" | "ConfigMap NAME (envFrom)"
    fix: str


def _shadows(sources: EnvSources, w: Workload, want: str | None) -> list[Shadow]:
    found: list[Shadow] = []
    for c in containers(w.spec):
        for name in SHADOWING:
            if env_entry(c, name) is not None:
                found.append(Shadow(c.name, name, "env", _drop_env(w, c, name)))
        for src in c.env_from:
            for kind, ref in (("ConfigMap", src.config_map_ref), ("Secret", src.secret_ref)):
                keys = sources.keys.get((w.namespace, kind, ref.name or "")) if ref else None
                for key in keys if isinstance(keys, list) else []:
                    if f"{src.prefix or ''}{key}" in SHADOWING:
                        assert ref is not None
                        patch = json.dumps([{"op": "remove", "path": f"/data/{pointer(key)}"}])
                        found.append(Shadow(c.name, f"{src.prefix or ''}{key}",
                                            f"{kind} {ref.name} (envFrom)",
                                            f"kubectl patch {kind.lower()} {ref.name} -n "
                                            f"{w.namespace} --type=json -p '{patch}'"))
        entry = env_entry(c, "AZURE_CLIENT_ID")
        if (entry is not None and want and (entry.value or "").lower() != want
                and (w.is_deployment or client_id_set_by_user(c, None))):
            found.append(Shadow(c.name, "AZURE_CLIENT_ID", "env",
                                _drop_env(w, c, "AZURE_CLIENT_ID")))
    return found


@check("workload.env-shadowing", "No credential variables shadow workload identity",
       layer="workload", failure_modes=(23,),
       docs="https://learn.microsoft.com/azure/developer/python/sdk/authentication/"
            "credential-chains")
def env_shadowing(report: Report, workload_view: WorkloadView,
                  env_source_keys: EnvSources) -> None:
    view = workload_view
    for w in view.all_workloads():
        report = report.about(of_workload(w))
        want = view.sa_client_id(w.namespace, w.spec.service_account)
        shadows = _shadows(env_source_keys, w, want)
        if not shadows:
            report.ok(f"{w.ref}: no AZURE_CLIENT_SECRET/CERTIFICATE_PATH or own AZURE_CLIENT_ID.")
            continue
        commands = list(dict.fromkeys(s.fix for s in shadows))
        if any(s.source != "env" for s in shadows):
            commands.append(f"kubectl rollout restart deployment/{w.name} -n {w.namespace}"
                            if w.is_deployment else recreate_pod(w.namespace, w.name))
        listed = "; ".join(f"{s.variable} in container {s.container} ({s.source})"
                           for s in shadows)
        report.fail(f"{w.ref}: {listed}: DefaultAzureCredential signs in with these instead of "
                    "the workload identity (the webhook never overwrites a variable the "
                    "container sets itself).",
                    expected={"AZURE_CLIENT_ID": want, "credential variables": []},
                    actual=[{"container": s.container, "variable": s.variable,
                             "from": s.source} for s in shadows],
                    fix="Remove these variables from the manifest (or from the Secret/ConfigMap "
                        "it loads) and re-create the pods, or build WorkloadIdentityCredential "
                        "explicitly in the app.",
                    commands=commands)


# -- skip-containers and hard-coded token paths ----------------------------------------------------

@check("workload.skip-containers", "No container skipped by the webhook", layer="workload",
       failure_modes=(43,), docs=DOCS)
def skip_containers(report: Report, workload_view: WorkloadView) -> None:
    for w in workload_view.all_workloads():
        report = report.about(of_workload(w))
        skipped = skipped_containers(w.annotations)
        if not skipped:
            continue
        names = [c.name for c in w.spec.containers if c.name not in PROXY_CONTAINERS]
        hit = [n for n in names if n in skipped]
        fix_cmds = ([remove_template_annotation(w, SKIP_CONTAINERS)] if w.is_deployment else
                    [f"kubectl annotate pod {w.name} -n {w.namespace} {SKIP_CONTAINERS}-",
                     recreate_pod(w.namespace, w.name)])
        evidence = {"expected": f"the containers that call Azure are not in {SKIP_CONTAINERS}",
                    "actual": {"skipped": sorted(skipped), "containers": names}}
        if hit and len(hit) == len(names):
            report.fail(f"{w.ref}: every container is listed in {SKIP_CONTAINERS} "
                        f"({', '.join(hit)}): none gets the token file or AZURE_* variables.",
                        fix="Remove the annotation (or the containers that call Azure from it).",
                        commands=fix_cmds, **evidence)
        elif hit:
            report.warn(f"{w.ref}: containers {', '.join(hit)} are in {SKIP_CONTAINERS}: they "
                        "get no token file or AZURE_* variables.",
                        fix="Fine if they never call Azure; otherwise take them off the list.",
                        commands=fix_cmds, **evidence)
        else:
            report.ok(f"{w.ref}: {SKIP_CONTAINERS} names no container of the pod.")
    if not report.made:
        report.about(Target()).skip("No workload in scope uses skip-containers.")


def _hard_coded_paths(container: Container, token_file: str) -> list[str]:
    texts = [e.value or "" for e in container.env if e.name != "AZURE_FEDERATED_TOKEN_FILE"]
    texts += [*container.command, *container.args]
    actual_dir = next((d for d, f in TOKEN_FILES.items() if f == token_file), None)
    return sorted({d for d in TOKEN_FILES if d != actual_dir and any(d in t for t in texts)})


@check("workload.token-path", "Apps read the token file the webhook mounts", layer="workload",
       failure_modes=(43,), docs=DOCS)
def token_path(report: Report, workload_view: WorkloadView) -> None:
    for pod in workload_view.labelled_pods():
        report = report.about(of_pod(pod))
        where = f"pod {pod.metadata.namespace}/{pod.metadata.name}"
        for c in containers(pod.spec):
            entry = env_entry(c, "AZURE_FEDERATED_TOKEN_FILE")
            if entry is None or c.name in PROXY_CONTAINERS:
                continue
            wrong = _hard_coded_paths(c, entry.value or "")
            if not wrong:
                report.ok(f"{where} container {c.name}: no stale token path hard-coded.")
                continue
            report.fail(f"{where} container {c.name} hard-codes {', '.join(wrong)}, but this "
                        f"webhook mounts the token at {entry.value}.",
                        expected=entry.value, actual=wrong,
                        fix="Read the path from $AZURE_FEDERATED_TOKEN_FILE instead of "
                            "hard-coding it (it moved in webhook v1.6).",
                        commands=[f"kubectl get pod {pod.metadata.name} -n "
                                  f"{pod.metadata.namespace} -o yaml | grep -n "
                                  f"'{wrong[0]}'"])
