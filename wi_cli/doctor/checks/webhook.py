"""Doctor checks of the webhook layer: is the workload identity webhook installed once, can the
API server reach it, and will it mutate pods in the namespaces in scope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...adapters.kube.client import kube_errors
from ...core.errors import KubernetesNotFound
from ..facts import Facts, fact
from ..registry import Report, check
from ..sources import (
    WEBHOOK_CONFIG,
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAMESPACES,
    WEBHOOK_SERVICE,
)

DOCS = "https://azure.github.io/azure-workload-identity/docs/installation.html"
WEBHOOK_NAME = "mutation.azure-workload-identity.io"
ADDON_NAMESPACE, HELM_NAMESPACE = WEBHOOK_NAMESPACES
HELM_RELEASE = "workload-identity-webhook"
SYSTEM_LABEL = "azure-workload-identity.io/system"
HELM_INSTALL = (f"helm install {HELM_RELEASE} azure-workload-identity/{HELM_RELEASE} "
                f"--namespace {HELM_NAMESPACE} --create-namespace "
                "--set azureTenantID=<tenant-id>")
HELM_REPO = ("helm repo add azure-workload-identity "
             "https://azure.github.io/azure-workload-identity/charts")


@dataclass(frozen=True)
class AwiWebhook:
    """One workload-identity webhook entry of a MutatingWebhookConfiguration."""

    config: str
    index: int
    webhook: Any  # V1MutatingWebhook

    @property
    def service_namespace(self) -> str | None:
        service = self.webhook.client_config.service if self.webhook.client_config else None
        return service.namespace if service else None


def awi_webhooks(facts: Facts) -> list[AwiWebhook]:
    found = []
    for config in facts["webhook"]["configs"]:
        for i, hook in enumerate(config.webhooks or []):
            service = hook.client_config.service if hook.client_config else None
            if hook.name == WEBHOOK_NAME or (service and service.name == WEBHOOK_SERVICE):
                found.append(AwiWebhook(config.metadata.name, i, hook))
    return found


def aks_update(facts: Facts, flags: str) -> str | None:
    """``az aks update ...`` for the AKS cluster doctor found, or None when it is not AKS."""
    from .cluster import _update

    found = facts.get("aks") or {}
    mc = found.get("cluster")
    return _update(mc, flags) if mc is not None else None


def _patch_webhook(hook: AwiWebhook, field: str, value: str) -> str:
    patch = json.dumps([{"op": "replace", "path": f"/webhooks/{hook.index}/{field}",
                         "value": value}])
    return f"kubectl patch mutatingwebhookconfiguration {hook.config} --type=json -p '{patch}'"


@fact("webhook_backends")
def webhook_backends(facts: Facts) -> dict[str, dict[str, Any]]:
    """Deployment and Endpoints behind each webhook service namespace ({ns: {...}}), reusing the
    shared 'webhook' fact and reading namespaces outside the two standard ones."""
    shared = facts["webhook"]
    kube = facts.ctx.kube
    out: dict[str, dict[str, Any]] = {}

    def read(ns: str) -> tuple[str, dict[str, Any]]:
        if ns in WEBHOOK_NAMESPACES:
            return ns, {"deployment": shared["deployments"].get(ns),
                        "endpoints": shared["endpoints"].get(ns)}
        got: dict[str, Any] = {"deployment": None, "endpoints": None}
        for key, call in (("deployment", lambda: kube.apps.read_namespaced_deployment(
                                WEBHOOK_DEPLOYMENT, ns)),
                          ("endpoints", lambda: kube.core.read_namespaced_endpoints(
                                WEBHOOK_SERVICE, ns))):
            try:
                with kube_errors(f"reading the webhook {key} in {ns}", kube.server):
                    got[key] = call()
            except KubernetesNotFound:
                pass
        return ns, got

    namespaces = sorted({h.service_namespace for h in awi_webhooks(facts)
                         if h.service_namespace})
    out.update(facts.map(read, namespaces))
    return out


# -- installed, once -------------------------------------------------------------------------------

@check("webhook.installed", "Workload identity webhook installed", layer="webhook",
       needs=("webhook", "aks"), failure_modes=(3,), docs=DOCS)
def installed(facts: Facts, report: Report) -> None:
    hooks = awi_webhooks(facts)
    if hooks:
        for hook in hooks:
            report.ok(f"MutatingWebhookConfiguration {hook.config} calls service "
                      f"{hook.service_namespace}/{WEBHOOK_SERVICE}.")
        return
    others = sorted(c.metadata.name for c in facts["webhook"]["configs"])
    update = aks_update(facts, "--enable-workload-identity")
    commands = [update] if update else [HELM_REPO, HELM_INSTALL]
    report.fail("No workload identity webhook is installed: labelled pods get no token file and "
                "no AZURE_* variables.",
                expected=f"MutatingWebhookConfiguration {WEBHOOK_CONFIG}",
                actual={"mutatingwebhookconfigurations": others},
                fix="Install the webhook (on AKS: turn the workload identity add-on on), then "
                    "restart the pods that use workload identity.",
                commands=commands)


@check("webhook.single-install", "Webhook installed only once", layer="webhook",
       needs=("webhook",), failure_modes=(37,), docs=DOCS)
def single_install(facts: Facts, report: Report) -> None:
    deployments = facts["webhook"]["deployments"]
    where = sorted(deployments)
    if len(where) <= 1:
        if where:
            report.ok(f"One webhook controller: {where[0]}/{WEBHOOK_DEPLOYMENT}.")
        else:
            report.skip("No webhook controller deployment found (see webhook.installed).")
        return
    report.fail("The webhook is installed twice (the AKS add-on and the Helm chart): two "
                "controllers fight over one configuration and Helm upgrades fail.",
                expected="one installation (on AKS: the add-on in kube-system)",
                actual=[f"{ns}/{WEBHOOK_DEPLOYMENT}" for ns in where],
                fix="Keep the AKS add-on and uninstall the Helm release.",
                commands=[f"helm list -n {HELM_NAMESPACE}",
                          f"helm uninstall {HELM_RELEASE} -n {HELM_NAMESPACE}"])


# -- reachable -------------------------------------------------------------------------------------

def _ready_addresses(endpoints: Any) -> int:
    if endpoints is None:
        return 0
    return sum(len(s.addresses or []) for s in endpoints.subsets or [])


def _deployment_state(deployment: Any) -> tuple[int, int]:
    """(wanted replicas, ready replicas)."""
    if deployment is None:
        return 0, 0
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    return wanted, (deployment.status.ready_replicas or 0) if deployment.status else 0


@check("webhook.ready", "Webhook has ready endpoints", layer="webhook",
       needs=("webhook", "webhook_backends"), requires=("webhook.installed",),
       failure_modes=(4,), docs="https://azure.github.io/azure-workload-identity/docs/"
                                 "troubleshooting.html")
def ready(facts: Facts, report: Report) -> None:
    backends = facts["webhook_backends"]
    for ns in sorted(backends):
        _report_ready(report, ns, backends[ns]["deployment"], backends[ns]["endpoints"])


def _report_ready(report: Report, ns: str, deployment: Any, endpoints: Any) -> None:
    wanted, ready_count = _deployment_state(deployment)
    addresses = _ready_addresses(endpoints)
    actual = {"deployment": f"{ready_count}/{wanted} ready" if deployment else "missing",
              "ready endpoints": addresses}
    target = f"deployment/{WEBHOOK_DEPLOYMENT}"
    if addresses and ready_count >= wanted:
        report.ok(f"{ns}/{WEBHOOK_SERVICE}: {addresses} ready endpoint(s), "
                  f"{ready_count}/{wanted} controller pods ready.")
    elif addresses:
        report.warn(f"{ns}/{WEBHOOK_DEPLOYMENT} is degraded ({ready_count}/{wanted} ready); "
                    "the webhook still answers.", expected=f"{wanted}/{wanted} ready",
                    actual=actual, fix="Find out why the controller pods are not ready.",
                    commands=[f"kubectl -n {ns} describe pods -l {SYSTEM_LABEL}=true"])
    else:
        commands = [f"kubectl -n {ns} get {target} endpoints/{WEBHOOK_SERVICE}",
                    f"kubectl -n {ns} describe pods -l {SYSTEM_LABEL}=true"]
        if deployment is not None and wanted == 0:
            commands.append(f"kubectl -n {ns} scale {target} --replicas=2")
        elif deployment is not None:
            commands.append(f"kubectl -n {ns} rollout restart {target}")
        report.fail(f"Service {ns}/{WEBHOOK_SERVICE} has no ready endpoints: the API server "
                    "cannot call the webhook, so pods labelled for workload identity are "
                    "refused (failurePolicy Fail) or created without identity (Ignore).",
                    expected="at least 1 ready endpoint", actual=actual,
                    fix="Bring the webhook controller pods back to Ready (and let the API "
                        "server reach them on port 9443), then re-create the refused pods.",
                    commands=commands)


# -- how it is configured --------------------------------------------------------------------------

def _upgrade_commands(facts: Facts, hook: AwiWebhook, field: str, value: str) -> list[str]:
    upgrade = (aks_update(facts, "--enable-workload-identity")
               if hook.service_namespace == ADDON_NAMESPACE else
               f"helm upgrade {HELM_RELEASE} azure-workload-identity/{HELM_RELEASE} "
               f"-n {hook.service_namespace} --reuse-values")
    return [c for c in (upgrade, _patch_webhook(hook, field, value)) if c]


@check("webhook.failure-policy", "Webhook failure policy is Fail", layer="webhook",
       needs=("webhook", "aks"), requires=("webhook.installed",), failure_modes=(5,), docs=DOCS)
def failure_policy(facts: Facts, report: Report) -> None:
    for hook in awi_webhooks(facts):
        policy = hook.webhook.failure_policy or "Fail"
        if policy == "Fail":
            report.ok(f"{hook.config}: failurePolicy Fail (pods wait for the webhook).")
            continue
        report.fail(f"{hook.config}: failurePolicy {policy}: while the webhook is down, labelled "
                    "pods start without token or AZURE_* variables (a pre-1.0 webhook).",
                    expected="Fail", actual=policy,
                    fix="Upgrade the webhook to v1.0 or later (or set the policy to Fail), then "
                        "restart the pods that were created without identity "
                        "(see workload.injection).",
                    commands=_upgrade_commands(facts, hook, "failurePolicy", "Fail"))


@check("webhook.reinvocation", "Webhook reinvoked after other webhooks", layer="webhook",
       needs=("webhook", "aks"), requires=("webhook.installed",), failure_modes=(34,),
       docs=DOCS)
def reinvocation(facts: Facts, report: Report) -> None:
    for hook in awi_webhooks(facts):
        policy = hook.webhook.reinvocation_policy or "Never"
        if policy == "IfNeeded":
            report.ok(f"{hook.config}: reinvocationPolicy IfNeeded.")
            continue
        report.warn(f"{hook.config}: reinvocationPolicy {policy}: sidecars that other webhooks "
                    "(Dapr, Istio) add later get no token or AZURE_* variables.",
                    expected="IfNeeded", actual=policy,
                    fix="Upgrade the webhook to v1.0 or later (or set the policy to IfNeeded).",
                    commands=_upgrade_commands(facts, hook, "reinvocationPolicy", "IfNeeded"))


# -- which namespaces it serves --------------------------------------------------------------------

def _requirement_holds(labels: dict[str, str], req: Any) -> bool:
    values = list(req.values or [])
    present = req.key in labels
    op = req.operator
    if op == "In":
        return present and labels[req.key] in values
    if op == "NotIn":
        return not present or labels[req.key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    return False


def selector_misses(selector: Any, labels: dict[str, str]) -> list[str]:
    """The parts of a label selector that these labels do not satisfy (empty: it matches)."""
    if selector is None:
        return []
    misses = [f"{k}={v}" for k, v in (selector.match_labels or {}).items() if labels.get(k) != v]
    for req in selector.match_expressions or []:
        if not _requirement_holds(labels, req):
            values = f" {list(req.values)}" if req.values else ""
            misses.append(f"{req.key} {req.operator}{values}")
    return misses


def _namespaces_to_check(facts: Facts) -> list[str]:
    if not facts.scope.all_namespaces:
        return [facts.scope.namespace]
    return sorted({ns for ns, _ in facts["subjects"]})


AKS_MANAGED_LABEL = ("kubernetes.azure.com/managedby", "aks")


def _exclusion_fix(ns: str, labels: dict[str, str], misses: list[str],
                   hook: AwiWebhook) -> tuple[str, list[str]]:
    """A namespace label that trips a DoesNotExist or NotIn expression (the AKS admissions
    enforcer adds `control-plane NotIn ["true"]` and `kubernetes.azure.com/managedby NotIn
    [aks]`: Kong/kong-operator#239, Azure/AKS#4002; older ones `control-plane DoesNotExist`,
    Azure/AKS#1771) can be removed, unless AKS manages the namespace."""
    aks_managed = ns == "kube-system" or labels.get(AKS_MANAGED_LABEL[0]) == AKS_MANAGED_LABEL[1]
    excluding_labels = []
    for miss in misses:
        key, _, rest = miss.partition(" ")
        operator = rest.split(" ", 1)[0]
        if (operator in ("DoesNotExist", "NotIn") and key in labels and not aks_managed
                and key != "kubernetes.io/metadata.name"):
            excluding_labels.append(key)
    commands = [f"kubectl label namespace {ns} {key}-" for key in excluding_labels]
    commands.append(f"kubectl get mutatingwebhookconfiguration {hook.config} "
                    f"-o jsonpath='{{.webhooks[{hook.index}].namespaceSelector}}'")
    if excluding_labels:
        return "Remove the excluding label from the namespace, or run the workload elsewhere.", \
            commands
    return ("Run the workload in another namespace: kube-system and namespaces managed by AKS "
            "are excluded on purpose (the AKS admissions enforcer adds these rules)."), commands


@check("webhook.namespace-selector", "Webhook serves the namespace", layer="webhook",
       needs=("webhook", "namespaces", "subjects"), requires=("webhook.installed",),
       failure_modes=(36,), docs="https://azure.github.io/azure-workload-identity/docs/"
                                 "known-issues.html")
def namespace_selector(facts: Facts, report: Report) -> None:
    labels_of = {n.metadata.name: dict(n.metadata.labels or {}) for n in facts["namespaces"]}
    for ns in _namespaces_to_check(facts):
        if ns not in labels_of:
            report.warn(f"Namespace {ns} does not exist.", expected=ns,
                        actual=sorted(labels_of), fix="Check the namespace name (-n).",
                        commands=["kubectl get namespaces"])
            continue
        labels = {"kubernetes.io/metadata.name": ns, **labels_of[ns]}
        for hook in awi_webhooks(facts):
            misses = selector_misses(hook.webhook.namespace_selector, labels)
            if not misses:
                report.ok(f"Namespace {ns} is selected by {hook.config}.")
                continue
            fix, commands = _exclusion_fix(ns, labels, misses, hook)
            report.fail(f"Namespace {ns} is excluded by the webhook's namespaceSelector "
                        f"({'; '.join(misses)}): its pods are never mutated.",
                        expected="the namespace labels satisfy the namespaceSelector",
                        actual={"labels": labels, "unmet": misses}, fix=fix,
                        commands=commands)
