"""Doctor checks of the webhook layer: is the workload identity webhook installed once, can the
API server reach it, and will it mutate pods in the namespaces in scope."""

from __future__ import annotations

import json

from ...core.models import (
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAMESPACES,
    Deployment,
    Endpoints,
    LabelSelector,
    LabelSelectorRequirement,
    Namespace,
)
from ..facts import Scope
from ..facts.cluster import AksRecord
from ..facts.webhook import (
    WEBHOOK_CONFIG,
    WEBHOOK_SERVICE,
    AwiWebhook,
    Backend,
    WebhookInstall,
)
from ..facts.workloads import Key
from ..registry import Report, check
from ..targets import of_namespace
from .cluster import aks_update as _update

DOCS = "https://azure.github.io/azure-workload-identity/docs/installation.html"
WEBHOOK_NAME = "mutation.azure-workload-identity.io"
ADDON_NAMESPACE, HELM_NAMESPACE = WEBHOOK_NAMESPACES
HELM_RELEASE = "workload-identity-webhook"
SYSTEM_LABEL = "azure-workload-identity.io/system"
HELM_INSTALL = (f"helm install {HELM_RELEASE} azure-workload-identity/{HELM_RELEASE} "
                f"--namespace {HELM_NAMESPACE} --create-namespace "
                "--set azureTenantID=TENANT_ID")
HELM_REPO = ("helm repo add azure-workload-identity "
             "https://azure.github.io/azure-workload-identity/charts")


def aks_update(aks: AksRecord | None, flags: str) -> str | None:
    """``az aks update ...`` for the AKS cluster doctor found, or None when it is not AKS."""
    return _update(aks.cluster, flags) if aks is not None and aks.cluster is not None else None


def _patch_webhook(hook: AwiWebhook, field: str, value: str) -> str:
    patch = json.dumps([{"op": "replace", "path": f"/webhooks/{hook.index}/{field}",
                         "value": value}])
    return f"kubectl patch mutatingwebhookconfiguration {hook.config} --type=json -p '{patch}'"


# -- installed, once -------------------------------------------------------------------------------

@check("webhook.installed", "Workload identity webhook installed", layer="webhook",
       failure_modes=(3,), docs=DOCS)
def installed(report: Report, webhook: WebhookInstall, awi_webhooks: list[AwiWebhook],
              aks: AksRecord | None = None) -> None:
    hooks = awi_webhooks
    if hooks:
        for hook in hooks:
            report.ok(f"MutatingWebhookConfiguration {hook.config} calls service "
                      f"{hook.service_namespace}/{WEBHOOK_SERVICE}.")
        return
    others = sorted(c.metadata.name for c in webhook.configs)
    update = aks_update(aks, "--enable-workload-identity")
    commands = [update] if update else [HELM_REPO, HELM_INSTALL]
    report.fail("No workload identity webhook is installed: labelled pods get no token file and "
                "no AZURE_* variables.",
                expected=f"MutatingWebhookConfiguration {WEBHOOK_CONFIG}",
                actual={"mutatingwebhookconfigurations": others},
                fix="Install the webhook (on AKS: turn the workload identity add-on on), then "
                    "restart the pods that use workload identity.",
                commands=commands)


@check("webhook.single-install", "Webhook installed only once", layer="webhook",
       failure_modes=(37,), docs=DOCS)
def single_install(report: Report, webhook: WebhookInstall) -> None:
    where = sorted(ns for ns, b in webhook.backends.items() if b.deployment is not None)
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

def _ready_addresses(endpoints: Endpoints | None) -> int:
    if endpoints is None:
        return 0
    return sum(len(s.addresses) for s in endpoints.subsets)


def _deployment_state(deployment: Deployment | None) -> tuple[int, int]:
    """(wanted replicas, ready replicas)."""
    if deployment is None:
        return 0, 0
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    return wanted, deployment.status.ready_replicas or 0


@check("webhook.ready", "Webhook has ready endpoints", layer="webhook",
       requires=("webhook.installed",),
       failure_modes=(4,), docs="https://azure.github.io/azure-workload-identity/docs/"
                                 "troubleshooting.html")
def ready(report: Report, webhook_backends: dict[str, Backend]) -> None:
    for ns in sorted(webhook_backends):
        backend = webhook_backends[ns]
        _report_ready(report, ns, backend.deployment, backend.endpoints)


def _report_ready(report: Report, ns: str, deployment: Deployment | None,
                  endpoints: Endpoints | None) -> None:
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

def _upgrade_commands(aks: AksRecord | None, hook: AwiWebhook, field: str,
                      value: str) -> list[str]:
    upgrade = (aks_update(aks, "--enable-workload-identity")
               if hook.service_namespace == ADDON_NAMESPACE else
               f"helm upgrade {HELM_RELEASE} azure-workload-identity/{HELM_RELEASE} "
               f"-n {hook.service_namespace} --reuse-values")
    return [c for c in (upgrade, _patch_webhook(hook, field, value)) if c]


@check("webhook.failure-policy", "Webhook failure policy is Fail", layer="webhook",
       requires=("webhook.installed",), failure_modes=(5,), docs=DOCS)
def failure_policy(report: Report, awi_webhooks: list[AwiWebhook],
                   aks: AksRecord | None = None) -> None:
    for hook in awi_webhooks:
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
                    commands=_upgrade_commands(aks, hook, "failurePolicy", "Fail"))


@check("webhook.reinvocation", "Webhook reinvoked after other webhooks", layer="webhook",
       requires=("webhook.installed",), failure_modes=(34,), docs=DOCS)
def reinvocation(report: Report, awi_webhooks: list[AwiWebhook],
                 aks: AksRecord | None = None) -> None:
    for hook in awi_webhooks:
        policy = hook.webhook.reinvocation_policy or "Never"
        if policy == "IfNeeded":
            report.ok(f"{hook.config}: reinvocationPolicy IfNeeded.")
            continue
        report.warn(f"{hook.config}: reinvocationPolicy {policy}: sidecars that other webhooks "
                    "(Dapr, Istio) add later get no token or AZURE_* variables.",
                    expected="IfNeeded", actual=policy,
                    fix="Upgrade the webhook to v1.0 or later (or set the policy to IfNeeded).",
                    commands=_upgrade_commands(aks, hook, "reinvocationPolicy", "IfNeeded"))


# -- which namespaces it serves --------------------------------------------------------------------

def _requirement_holds(labels: dict[str, str], req: LabelSelectorRequirement) -> bool:
    values = list(req.values)
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


def selector_misses(selector: LabelSelector | None, labels: dict[str, str]) -> list[str]:
    """The parts of a label selector that these labels do not satisfy (empty: it matches)."""
    if selector is None:
        return []
    misses = [f"{k}={v}" for k, v in selector.match_labels.items() if labels.get(k) != v]
    for req in selector.match_expressions:
        if not _requirement_holds(labels, req):
            values = f" {list(req.values)}" if req.values else ""
            misses.append(f"{req.key} {req.operator}{values}")
    return misses


def _namespaces_to_check(scope: Scope, subjects: list[Key]) -> list[str]:
    if not scope.all_namespaces:
        return [scope.namespace]
    return sorted({ns for ns, _ in subjects})


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
       requires=("webhook.installed",),
       failure_modes=(36,), docs="https://azure.github.io/azure-workload-identity/docs/"
                                 "known-issues.html")
def namespace_selector(report: Report, scope: Scope, namespaces: list[Namespace],
                       subjects: list[Key], awi_webhooks: list[AwiWebhook]) -> None:
    labels_of = {n.metadata.name: dict(n.metadata.labels) for n in namespaces}
    for ns in _namespaces_to_check(scope, subjects):
        report = report.about(of_namespace(ns))
        if ns not in labels_of:
            report.warn(f"Namespace {ns} does not exist.", expected=ns,
                        actual=sorted(labels_of), fix="Check the namespace name (-n).",
                        commands=["kubectl get namespaces"])
            continue
        labels = {"kubernetes.io/metadata.name": ns, **labels_of[ns]}
        for hook in awi_webhooks:
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
