"""Workload checks of where and how the pods run: the proxy sidecar, Windows nodes, reading the
token file as a non-root user, and virtual nodes."""

from __future__ import annotations

import re

from ....core.models import WI_USE_LABEL, PodSpec, Target
from ...facts.workloads import Workload
from ...registry import Report, check
from ...targets import of_workload
from .common import (
    INJECT_PROXY,
    WorkloadView,
    containers,
    edit_pod,
    patch_template,
    recreate_pod,
    remove_template_annotation,
)

OS_LABEL = "kubernetes.io/os"
VIRTUAL_NODE_SELECTOR = ("type", "virtual-kubelet")
KNOWN_ISSUES = "https://azure.github.io/azure-workload-identity/docs/known-issues.html"


def version_below(version: str, floor: tuple[int, int]) -> bool:
    """Is a git version like 'v1.18.3' (or 'v1.30.1-aks') older than ``floor``? Unknown: no."""
    m = re.match(r"v?(\d+)\.(\d+)", version)
    return m is not None and (int(m.group(1)), int(m.group(2))) < floor


def _is_windows(w: Workload) -> bool:
    return w.spec.node_selector.get(OS_LABEL) == "windows" or (
        w.spec.os is not None and w.spec.os.name == "windows")


def _proxy_problems(w: Workload) -> list[tuple[str, str]]:
    """(problem, fix) pairs of a workload that asks for the proxy sidecar."""
    value = w.annotations[INJECT_PROXY]
    problems = []
    if value.strip().lower() == "false":
        problems.append((f"{INJECT_PROXY} is {value!r}, yet the webhook injects the proxy "
                         "whenever the key is present", "remove the annotation"))
    if w.spec.host_network:
        problems.append(("hostNetwork is true, so the webhook refuses the pod (\"hostNetwork is "
                         "set to true, cannot inject proxy sidecar\")",
                         "drop hostNetwork or the proxy annotation"))
    if _is_windows(w):
        problems.append(("it runs on Windows, and the proxy images are Linux-only",
                         "do not use the proxy on Windows"))
    return problems


@check("workload.proxy", "Proxy sidecar annotation usable", layer="workload",
       failure_modes=(31, 33, 30), docs="https://azure.github.io/azure-workload-identity/docs/"
                                         "topics/language-specific-examples/migration.html")
def proxy(report: Report, workload_view: WorkloadView) -> None:
    for w in workload_view.all_workloads():
        if INJECT_PROXY not in w.annotations:
            continue
        report = report.about(of_workload(w))
        problems = _proxy_problems(w)
        if not problems:
            report.ok(f"{w.ref}: proxy sidecar requested on a Linux pod network.")
            continue
        commands = ([remove_template_annotation(w, INJECT_PROXY)] if w.is_deployment else
                    [f"kubectl annotate pod {w.name} -n {w.namespace} {INJECT_PROXY}-",
                     recreate_pod(w.namespace, w.name)])
        fixes = "; ".join(f for _, f in problems)
        report.fail(f"{w.ref}: {'; '.join(p for p, _ in problems)}.",
                    expected="annotation absent, or present on a Linux pod without hostNetwork",
                    actual={INJECT_PROXY: w.annotations[INJECT_PROXY],
                            "hostNetwork": bool(w.spec.host_network),
                            "windows": _is_windows(w)},
                    fix=fixes[:1].upper() + fixes[1:] + ".",  # not capitalize(): hostNetwork
                    commands=commands)
    if not report.made:
        report.about(Target()).skip("No workload in scope asks for the proxy sidecar.")


@check("workload.windows", "Windows pods declare spec.os", layer="workload",
       failure_modes=(30,), docs=KNOWN_ISSUES)
def windows(report: Report, workload_view: WorkloadView) -> None:
    for w in workload_view.all_workloads():
        if not _is_windows(w):
            continue
        report = report.about(of_workload(w))
        declared = w.spec.os.name if w.spec.os is not None else None
        if declared == "windows":
            report.ok(f"{w.ref}: spec.os.name is windows.")
            continue
        commands = ([patch_template(w, {"spec": {"os": {"name": "windows"}}})]
                    if w.is_deployment else
                    [edit_pod(w.namespace, w.name, '.spec.os={"name":"windows"}')])
        report.fail(f"{w.ref} targets Windows nodes but does not set spec.os.name: the token "
                    "volume mount fails (\"chown ... not supported by windows\").",
                    expected="windows", actual=declared,
                    fix="Set spec.os.name: windows in the pod spec.", commands=commands)
    if not report.made:
        report.about(Target()).skip("No Windows workload in scope.")


def _identity_workloads(view: WorkloadView) -> list[Workload]:
    return [w for w in view.all_workloads() if w.labels.get(WI_USE_LABEL) == "true"]


def _runs_as_non_root(spec: PodSpec) -> bool:
    pod_ctx = spec.security_context
    for c in containers(spec):
        ctx = c.security_context
        user = (ctx.run_as_user if ctx and ctx.run_as_user is not None
                else pod_ctx.run_as_user if pod_ctx else None)
        non_root = (ctx.run_as_non_root if ctx and ctx.run_as_non_root is not None
                    else pod_ctx.run_as_non_root if pod_ctx else None)
        if (user is not None and user != 0) or non_root:
            return True
    return False


@check("workload.token-file-access", "Non-root pods can read the token file", layer="workload",
       failure_modes=(29,), docs=KNOWN_ISSUES)
def token_file_access(report: Report, workload_view: WorkloadView,
                      kube_version: str | None = None) -> None:
    version = kube_version or ""
    if not version_below(version, (1, 19)):
        # since Kubernetes 1.19 the projected token is 0644, or 0600 owned by the pods' runAsUser
        # (kubernetes/website concepts/storage/projected-volumes.md; AWI known-issues.md)
        report.ok(f"Kubernetes {version or '(version unknown)'} makes the projected token "
                  "readable by the pod's user without fsGroup (since 1.19).")
        return
    for w in _identity_workloads(workload_view):
        report = report.about(of_workload(w))
        if not _runs_as_non_root(w.spec):
            report.ok(f"{w.ref} runs as root: the token file is readable.")
            continue
        fs_group = w.spec.security_context.fs_group if w.spec.security_context else None
        if fs_group is not None:
            report.ok(f"{w.ref} runs as non-root with fsGroup {fs_group}.")
            continue
        commands = ([patch_template(w, {"spec": {"securityContext": {"fsGroup": 65534}}})]
                    if w.is_deployment else
                    [edit_pod(w.namespace, w.name, ".spec.securityContext.fsGroup=65534")])
        report.warn(f"{w.ref} runs as non-root without fsGroup: where the projected token is "
                    "written with mode 0600 the app gets \"permission denied\" reading it.",
                    expected="fsGroup set (e.g. 65534)", actual=None,
                    fix="Set the pod's securityContext.fsGroup so the token file is readable.",
                    commands=commands)
    if not report.made:
        report.about(Target()).skip("No workload labelled for workload identity in scope.")


def _targets_virtual_node(spec: PodSpec) -> bool:
    if spec.node_selector.get(VIRTUAL_NODE_SELECTOR[0]) == VIRTUAL_NODE_SELECTOR[1]:
        return True
    return any((t.key or "").startswith("virtual-kubelet.io/") for t in spec.tolerations)


@check("workload.virtual-node", "Pods not on virtual nodes (ACI)", layer="workload",
       failure_modes=(45,), docs="https://learn.microsoft.com/azure/aks/workload-identity-overview")
def virtual_node(report: Report, workload_view: WorkloadView) -> None:
    for w in _identity_workloads(workload_view):
        if not _targets_virtual_node(w.spec):
            continue
        report = report.about(of_workload(w))
        report.fail(f"{w.ref} targets virtual nodes (ACI), where workload identity is not "
                    "supported: its pods get no token.",
                    expected="a VM node pool", actual="virtual-kubelet",
                    fix="Schedule the workload on VM nodes: remove the virtual-kubelet "
                        "nodeSelector and toleration.",
                    commands=([patch_template(w, {"spec": {"nodeSelector": {"type": None}}})]
                              if w.is_deployment else []))
    if not report.made:
        report.about(Target()).ok("No workload labelled for workload identity targets virtual nodes.")
