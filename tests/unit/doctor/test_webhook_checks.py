"""The webhook layer's checks on plain values: the MutatingWebhookConfigurations (as the add-on
and the Helm chart install them), the controller Deployment and the service's Endpoints."""

from __future__ import annotations

import json

from checkrun import commands, covers, one, run
from values import (
    ADDON_NS,
    CLUSTER,
    HELM_NS,
    NO_AKS,
    NS,
    RG,
    SA,
    aks,
    backend,
    namespace,
    pod,
    service_account,
    webhook_config,
)
from wi_cli.core.models import (
    WEBHOOK_DEPLOYMENT,
    MutatingWebhookConfiguration,
    Status,
    from_json,
)
from wi_cli.doctor.facts import Scope
from wi_cli.doctor.facts.webhook import WEBHOOK_CONFIG, WEBHOOK_SERVICE, Backend, WebhookInstall

DEPLOY = f"deployment/{WEBHOOK_DEPLOYMENT}"
HELM_UPGRADE = ("helm upgrade workload-identity-webhook "
                "azure-workload-identity/workload-identity-webhook -n "
                f"{HELM_NS} --reuse-values")


def install(*configs: MutatingWebhookConfiguration, backends: dict[str, Backend] | None = None,
            ) -> WebhookInstall:
    return WebhookInstall(list(configs), dict(backends or {}))


def addon() -> WebhookInstall:
    return WebhookInstall([webhook_config(ADDON_NS)], {ADDON_NS: backend(ADDON_NS)})


def patch_of(command: str) -> list[dict]:
    assert command.startswith(f"kubectl patch mutatingwebhookconfiguration {WEBHOOK_CONFIG} "
                              "--type=json -p '")
    return json.loads(command.split(" -p ", 1)[1].strip("'"))


# -- webhook.installed ----------------------------------------------------------------------------

@covers("webhook.installed")
def test_installed_names_the_configuration_and_its_service() -> None:
    f = one(run("webhook.installed", webhook=addon()))
    assert f.status == Status.OK
    assert f.summary == (f"MutatingWebhookConfiguration {WEBHOOK_CONFIG} calls service "
                         f"{ADDON_NS}/{WEBHOOK_SERVICE}.")


def test_installed_finds_a_renamed_configuration_by_its_service() -> None:
    renamed = webhook_config(HELM_NS, config_name="custom-wi-webhook", name="wi.example.com")
    f = one(run("webhook.installed", webhook=install(renamed)))
    assert f.status == Status.OK and "custom-wi-webhook" in f.summary


@covers("webhook.installed", 3)
def test_not_installed_on_aks_fails_with_the_add_on_command() -> None:
    other = from_json(MutatingWebhookConfiguration, {"metadata": {"name": "istio-sidecar-injector"},
                                                     "webhooks": [{"name": "istio.io"}]})
    f = one(run("webhook.installed", webhook=install(other), aks=aks()))
    assert f.status == Status.FAIL
    assert "No workload identity webhook is installed" in f.summary
    assert f.evidence.expected == f"MutatingWebhookConfiguration {WEBHOOK_CONFIG}"
    assert f.evidence.actual == {"mutatingwebhookconfigurations": ["istio-sidecar-injector"]}
    assert commands(f) == [f"az aks update -g {RG} -n {CLUSTER} --enable-workload-identity"]


def test_not_installed_off_aks_fails_with_the_helm_install() -> None:
    f = one(run("webhook.installed", webhook=install()))  # no AKS record could be read
    assert f.status == Status.FAIL
    assert commands(f)[0].startswith("helm repo add azure-workload-identity https://")
    assert commands(f)[1].startswith("helm install workload-identity-webhook ")
    assert "--set azureTenantID=TENANT_ID" in commands(f)[1]
    assert f.remediation.text.startswith("Install the webhook")


# -- webhook.single-install -----------------------------------------------------------------------

@covers("webhook.single-install")
def test_one_controller_is_ok() -> None:
    f = one(run("webhook.single-install", webhook=addon()))
    assert f.status == Status.OK and f"{ADDON_NS}/{WEBHOOK_DEPLOYMENT}" in f.summary


@covers("webhook.single-install", 37)
def test_add_on_and_helm_chart_together_fail_with_the_helm_uninstall() -> None:
    both = install(webhook_config(ADDON_NS), backends={ADDON_NS: backend(ADDON_NS),
                                                       HELM_NS: backend(HELM_NS)})
    f = one(run("webhook.single-install", webhook=both))
    assert f.status == Status.FAIL and "installed twice" in f.summary
    assert sorted(f.evidence.actual) == [f"{HELM_NS}/{WEBHOOK_DEPLOYMENT}",
                                         f"{ADDON_NS}/{WEBHOOK_DEPLOYMENT}"]
    assert commands(f) == [f"helm list -n {HELM_NS}",
                           f"helm uninstall workload-identity-webhook -n {HELM_NS}"]


def test_single_install_skips_when_no_controller_is_found() -> None:
    only_endpoints = install(webhook_config(), backends={ADDON_NS: backend(replicas=None)})
    f = one(run("webhook.single-install", webhook=only_endpoints))
    assert f.status == Status.SKIP and "webhook.installed" in f.summary


# -- webhook.ready --------------------------------------------------------------------------------

@covers("webhook.ready")
def test_ready_endpoints_and_controllers() -> None:
    f = one(run("webhook.ready", webhook_backends={ADDON_NS: backend(ADDON_NS)}))
    assert f.status == Status.OK
    assert f.summary == (f"{ADDON_NS}/{WEBHOOK_SERVICE}: 2 ready endpoint(s), 2/2 controller "
                         "pods ready.")


@covers("webhook.ready", 4)
def test_degraded_controller_that_still_answers_warns() -> None:
    f = one(run("webhook.ready", webhook_backends={ADDON_NS: backend(ready=1, endpoints=1)}))
    assert f.status == Status.WARN and "degraded (1/2 ready)" in f.summary
    assert f.evidence.actual == {"deployment": "1/2 ready", "ready endpoints": 1}
    assert commands(f) == [f"kubectl -n {ADDON_NS} describe pods -l "
                           "azure-workload-identity.io/system=true"]


@covers("webhook.ready", 4)
def test_no_ready_endpoints_fails_with_a_rollout_restart() -> None:
    f = one(run("webhook.ready", webhook_backends={HELM_NS: backend(HELM_NS, ready=0,
                                                                    endpoints=0)}))
    assert f.status == Status.FAIL
    assert f"Service {HELM_NS}/{WEBHOOK_SERVICE} has no ready endpoints" in f.summary
    assert "refused" in f.summary
    assert f.evidence.actual == {"deployment": "0/2 ready", "ready endpoints": 0}
    assert commands(f) == [
        f"kubectl -n {HELM_NS} get {DEPLOY} endpoints/{WEBHOOK_SERVICE}",
        f"kubectl -n {HELM_NS} describe pods -l azure-workload-identity.io/system=true",
        f"kubectl -n {HELM_NS} rollout restart {DEPLOY}"]


def test_controller_scaled_to_zero_is_scaled_back_up() -> None:
    f = one(run("webhook.ready", webhook_backends={ADDON_NS: backend(replicas=0, ready=0,
                                                                     endpoints=None)}))
    assert f.status == Status.FAIL
    assert commands(f)[-1] == f"kubectl -n {ADDON_NS} scale {DEPLOY} --replicas=2"


def test_missing_controller_gets_no_restart_command() -> None:
    f = one(run("webhook.ready", webhook_backends={"custom-ns": backend("custom-ns",
                                                                        replicas=None,
                                                                        endpoints=None)}))
    assert f.status == Status.FAIL
    assert f.evidence.actual == {"deployment": "missing", "ready endpoints": 0}
    assert not any("restart" in c or "scale" in c for c in commands(f))


def test_ready_reports_nothing_without_a_webhook_service() -> None:
    assert run("webhook.ready", webhook_backends={}) == []


# -- webhook.failure-policy -----------------------------------------------------------------------

@covers("webhook.failure-policy")
def test_failure_policy_fail() -> None:
    f = one(run("webhook.failure-policy", webhook=addon()))
    assert f.status == Status.OK and "failurePolicy Fail" in f.summary


def test_failure_policy_unset_means_fail() -> None:
    f = one(run("webhook.failure-policy", webhook=install(webhook_config(failurePolicy=None))))
    assert f.status == Status.OK


@covers("webhook.failure-policy", 5)
def test_failure_policy_ignore_on_the_add_on_fails_with_update_and_patch() -> None:
    f = one(run("webhook.failure-policy",
                webhook=install(webhook_config(ADDON_NS, failurePolicy="Ignore")), aks=aks()))
    assert f.status == Status.FAIL
    assert "failurePolicy Ignore" in f.summary and "without token" in f.summary
    assert (f.evidence.expected, f.evidence.actual) == ("Fail", "Ignore")
    update, patch = commands(f)
    assert update == f"az aks update -g {RG} -n {CLUSTER} --enable-workload-identity"
    assert patch_of(patch) == [{"op": "replace", "path": "/webhooks/0/failurePolicy",
                                "value": "Fail"}]
    assert "workload.injection" in f.remediation.text


def test_failure_policy_ignore_from_helm_is_a_helm_upgrade() -> None:
    f = one(run("webhook.failure-policy",
                webhook=install(webhook_config(HELM_NS, failurePolicy="Ignore"))))
    assert f.status == Status.FAIL
    assert commands(f)[0] == HELM_UPGRADE


def test_failure_policy_on_the_add_on_without_an_aks_record_only_patches() -> None:
    f = one(run("webhook.failure-policy",
                webhook=install(webhook_config(ADDON_NS, failurePolicy="Ignore")),
                aks=NO_AKS))
    assert [c.split(" ")[:2] for c in commands(f)] == [["kubectl", "patch"]]


# -- webhook.reinvocation -------------------------------------------------------------------------

@covers("webhook.reinvocation")
def test_reinvocation_if_needed() -> None:
    f = one(run("webhook.reinvocation", webhook=addon()))
    assert f.status == Status.OK and "IfNeeded" in f.summary


@covers("webhook.reinvocation", 34)
def test_reinvocation_never_warns_about_sidecars() -> None:
    f = one(run("webhook.reinvocation",
                webhook=install(webhook_config(HELM_NS, reinvocationPolicy=None))))
    assert f.status == Status.WARN
    assert "reinvocationPolicy Never" in f.summary and "sidecars" in f.summary
    assert (f.evidence.expected, f.evidence.actual) == ("IfNeeded", "Never")
    upgrade, patch = commands(f)
    assert upgrade == HELM_UPGRADE
    assert patch_of(patch) == [{"op": "replace", "path": "/webhooks/0/reinvocationPolicy",
                                "value": "IfNeeded"}]


# -- webhook.namespace-selector -------------------------------------------------------------------

@covers("webhook.namespace-selector")
def test_namespace_selected_by_the_add_on() -> None:
    f = one(run("webhook.namespace-selector", webhook=addon(), namespaces=[namespace(NS)]))
    assert f.status == Status.OK and f"Namespace {NS} is selected" in f.summary


@covers("webhook.namespace-selector", 36)
def test_namespace_labelled_control_plane_fails_with_the_label_removal() -> None:
    f = one(run("webhook.namespace-selector", webhook=addon(),
                namespaces=[namespace(NS, {"control-plane": "true"})]))
    assert f.status == Status.FAIL
    assert "excluded by the webhook's namespaceSelector (control-plane NotIn ['true'])" \
        in f.summary
    assert f.evidence.actual["unmet"] == ["control-plane NotIn ['true']"]
    assert commands(f) == [
        f"kubectl label namespace {NS} control-plane-",
        f"kubectl get mutatingwebhookconfiguration {WEBHOOK_CONFIG} "
        "-o jsonpath='{.webhooks[0].namespaceSelector}'"]
    assert f.remediation.text.startswith("Remove the excluding label")


@covers("webhook.namespace-selector", 36)
def test_kube_system_is_excluded_on_purpose() -> None:
    system = namespace(ADDON_NS, {"control-plane": "true",
                                  "kubernetes.azure.com/managedby": "aks"})
    f = one(run("webhook.namespace-selector", webhook=addon(), scope=Scope(ADDON_NS),
                namespaces=[system]))
    assert f.status == Status.FAIL
    assert "kubernetes.azure.com/managedby NotIn ['aks']" in f.summary
    assert not any(c.startswith("kubectl label") for c in commands(f))
    assert f.remediation.text.startswith("Run the workload in another namespace")


def test_a_match_labels_selector_names_the_missing_label() -> None:
    opt_in = install(webhook_config(HELM_NS, namespaceSelector={
        "matchLabels": {"azure-workload-identity.io/enabled": "true"}}))
    f = one(run("webhook.namespace-selector", webhook=opt_in, namespaces=[namespace(NS)]))
    assert f.status == Status.FAIL
    assert f.evidence.actual["unmet"] == ["azure-workload-identity.io/enabled=true"]


def test_missing_namespace_warns() -> None:
    f = one(run("webhook.namespace-selector", webhook=addon(), scope=Scope("typo"),
                namespaces=[namespace(NS)]))
    assert f.status == Status.WARN and "Namespace typo does not exist" in f.summary
    assert commands(f) == ["kubectl get namespaces"]


def test_all_namespaces_checks_the_namespaces_of_the_subjects() -> None:
    f = one(run("webhook.namespace-selector", webhook=addon(),
                scope=Scope(NS, all_namespaces=True),
                namespaces=[namespace(NS), namespace("other", {"control-plane": "true"})],
                service_accounts=[service_account(SA, NS)],
                pods=[pod(ns=NS, service_account=SA)]))
    assert f.status == Status.OK and NS in f.summary
