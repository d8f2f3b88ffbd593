"""`wi doctor`'s cluster and webhook layers as a user runs them, against the lab: the healthy
cluster passes, and each broken state (seeded through the lab's ARM record, the API server's
store or kubectl) makes the right check fail with its fix. Cluster-wide breakage is undone
after each test."""

from __future__ import annotations

import copy
import os
import subprocess
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.lab.kube import aks, scenarios, webhook
from wi_cli.lab.kube.errors import ApiError

NS = scenarios.NAMESPACE
RG = scenarios.RESOURCE_GROUP
CLUSTER = scenarios.CLUSTER_NAME
ADDON_NS = webhook.ADDON_NAMESPACE


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("doctor-cw")) as world:
        world["kube_cache"] = str(world["folder"] / "kube-cache")
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"],
                                             world["kubeconfig"]))


def doctor(wi, *argv: str) -> tuple[int, dict]:
    run = wi("doctor", *argv, "-o", "json")
    return run.code, run.json


def findings(doc: dict, check_id: str) -> list[dict]:
    return [f for f in doc["findings"] if f["id"] == check_id]


def only(doc: dict, check_id: str) -> dict:
    found = findings(doc, check_id)
    assert len(found) == 1, found
    return found[0]


def kubectl(world: dict[str, Any], command: str) -> str:
    """Run a remediation command exactly as doctor printed it (a shell line)."""
    assert command.startswith("kubectl ")
    done = subprocess.run(command.replace("kubectl ", "kubectl --request-timeout=10s ", 1),
                          shell=True, text=True, capture_output=True,
                          env={**os.environ, "KUBECONFIG": world["kubeconfig"],
                               "KUBECACHEDIR": world["kube_cache"]})
    assert done.returncode == 0, done.stderr
    return done.stdout


def labelled_pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"azure.workload.identity/use": "true"}},
            "spec": {"serviceAccountName": scenarios.SERVICE_ACCOUNT,
                     "containers": [{"name": "app", "image": "busybox"}]}}


# -- healthy ---------------------------------------------------------------------------------------

def test_healthy_cluster_and_webhook_pass(world, env, wi) -> None:
    code, doc = doctor(wi, "-n", NS, "--no-live")
    mine = [f for f in doc["findings"] if f["layer"] in ("cluster", "webhook")]
    assert {f["status"] for f in mine} == {"ok"}, [f for f in mine if f["status"] != "ok"]
    assert {f["id"] for f in mine} >= {
        "cluster.aks", "cluster.oidc-issuer", "cluster.workload-identity",
        "cluster.issuer-consistent", "webhook.installed", "webhook.single-install",
        "webhook.ready", "webhook.failure-policy", "webhook.reinvocation",
        "webhook.namespace-selector"}
    assert code == 0, [f for f in doc["findings"] if f["status"] in ("fail", "error")]
    assert world["seeded"].issuer_url in only(doc, "cluster.issuer-consistent")["summary"]


def test_list_checks_names_these_checks(world, env, wi) -> None:
    code, doc = doctor(wi, "--list-checks")
    listed = {c["id"]: c for c in doc["data"]["checks"]}
    assert code == 0
    assert listed["cluster.issuer-consistent"]["failure_modes"] == [12]
    assert listed["webhook.single-install"]["failure_modes"] == [37]
    assert listed["webhook.namespace-selector"]["failure_modes"] == [36]
    assert {"webhook.installed", "webhook.ready", "webhook.failure-policy",
            "webhook.reinvocation"} <= set(listed)


# -- the cluster (ARM) -----------------------------------------------------------------------------

def test_oidc_issuer_off_fails_with_the_update_command(world, env, wi) -> None:
    cluster = world["seeded"].cluster
    aks.set_oidc_issuer(cluster, False)
    try:
        code, doc = doctor(wi, "-n", NS, "--no-live", "--cluster", CLUSTER, "-g", RG)
    finally:
        aks.set_oidc_issuer(cluster, True)
    issuer = only(doc, "cluster.oidc-issuer")
    assert code == 1
    assert issuer["status"] == "fail"
    assert issuer["evidence"]["actual"] == {"oidcIssuerProfile.enabled": False, "issuerURL": None}
    assert issuer["remediation"]["commands"] == [
        f"az aks update -g {RG} -n {CLUSTER} --enable-oidc-issuer"]
    assert only(doc, "cluster.issuer-consistent")["status"] == "skip"


def test_workload_identity_off_fails_cluster_and_webhook(world, env, wi) -> None:
    cluster = world["seeded"].cluster
    aks.set_workload_identity(cluster, False)
    try:
        code, doc = doctor(wi, "-n", NS, "--no-live")
    finally:
        aks.set_workload_identity(cluster, True)
    enable = f"az aks update -g {RG} -n {CLUSTER} --enable-workload-identity"
    assert code == 1
    wi = only(doc, "cluster.workload-identity")
    assert wi["status"] == "fail" and wi["remediation"]["commands"] == [enable]
    installed = only(doc, "webhook.installed")
    assert installed["status"] == "fail"
    assert installed["evidence"]["expected"].endswith(webhook.CONFIGURATION_NAME)
    assert installed["remediation"]["commands"] == [enable]
    assert only(doc, "webhook.ready")["status"] == "skip"


def test_kubeconfig_of_another_cluster_fails_issuer_consistency(world, env, wi) -> None:
    lab, seeded = world["lab"], world["seeded"]
    other = world.get("other") or aks.add_aks_cluster(lab, seeded.subscription_id, RG, "other-aks")
    world["other"] = other
    code, doc = doctor(wi, "-n", NS, "--no-live", "--cluster", "other-aks", "-g", RG)
    found = only(doc, "cluster.issuer-consistent")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"] == {"expected": other.aks.record.issuer_url,
                                 "actual": seeded.issuer_url}
    assert found["remediation"]["commands"] == [f"az aks get-credentials -g {RG} -n other-aks"]


# -- the webhook (Kubernetes) --------------------------------------------------------------------

def test_webhook_configuration_deleted_fails_installed(world, env, wi) -> None:
    store = world["store"]
    saved = store.get("mutatingwebhookconfigurations", None, webhook.CONFIGURATION_NAME)
    store.delete("mutatingwebhookconfigurations", None, webhook.CONFIGURATION_NAME)
    try:
        code, doc = doctor(wi, "-n", NS, "--no-live")
    finally:
        restored = copy.deepcopy(saved)
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation"):
            restored["metadata"].pop(key, None)
        store.create("mutatingwebhookconfigurations", None, restored)
    assert code == 1
    assert only(doc, "cluster.workload-identity")["status"] == "ok"  # ARM still says on
    installed = only(doc, "webhook.installed")
    assert installed["status"] == "fail"
    assert installed["evidence"]["actual"] == {"mutatingwebhookconfigurations": []}
    assert "--enable-workload-identity" in installed["remediation"]["commands"][0]
    for check_id in ("webhook.ready", "webhook.failure-policy", "webhook.namespace-selector"):
        assert only(doc, check_id)["status"] == "skip"


def test_webhook_scaled_to_zero_fails_ready_and_the_fix_works(world, env, wi) -> None:
    store = world["store"]
    deployment = f"deployment/{webhook.DEPLOYMENT_NAME}"
    kubectl(world, f"kubectl -n {ADDON_NS} scale {deployment} --replicas=0")
    try:
        with pytest.raises(ApiError, match="no endpoints available"):  # what users see
            store.create("pods", NS, labelled_pod("refused"))
        code, doc = doctor(wi, "-n", NS, "--no-live")
        ready = only(doc, "webhook.ready")
        assert code == 1 and ready["status"] == "fail"
        assert ready["evidence"]["actual"] == {"deployment": "0/0 ready", "ready endpoints": 0}
        scale = f"kubectl -n {ADDON_NS} scale {deployment} --replicas=2"
        assert scale in ready["remediation"]["commands"]
        kubectl(world, scale)
        code, doc = doctor(wi, "-n", NS, "--no-live", "--check", "webhook.ready")
        assert code == 0 and only(doc, "webhook.ready")["status"] == "ok"
    finally:
        store.patch("deployments", ADDON_NS, webhook.DEPLOYMENT_NAME,
                    {"spec": {"replicas": 2}}, "application/merge-patch+json")


def _patch_first_webhook(world: dict[str, Any], field: str, value: str) -> str:
    store = world["store"]
    config = store.get("mutatingwebhookconfigurations", None, webhook.CONFIGURATION_NAME)
    before = config["webhooks"][0][field]
    config["webhooks"][0][field] = value
    store.update("mutatingwebhookconfigurations", None, config)
    return before


def test_failure_policy_ignore_fails_and_the_patch_fixes_it(world, env, wi) -> None:
    before = _patch_first_webhook(world, "failurePolicy", "Ignore")
    try:
        code, doc = doctor(wi, "-n", NS, "--no-live")
        found = only(doc, "webhook.failure-policy")
        assert code == 1 and found["status"] == "fail"
        assert found["evidence"] == {"expected": "Fail", "actual": "Ignore"}
        patch = found["remediation"]["commands"][-1]
        assert patch.startswith("kubectl patch mutatingwebhookconfiguration")
        assert found["remediation"]["commands"][0].endswith("--enable-workload-identity")
        kubectl(world, patch)
        code, doc = doctor(wi, "-n", NS, "--no-live", "--check", "webhook.failure-policy")
        assert code == 0 and only(doc, "webhook.failure-policy")["status"] == "ok"
    finally:
        _patch_first_webhook(world, "failurePolicy", before)


def test_reinvocation_never_is_a_warning_only(world, env, wi) -> None:
    before = _patch_first_webhook(world, "reinvocationPolicy", "Never")
    try:
        code, doc = doctor(wi, "-n", NS, "--no-live", "--check", "webhook.installed",
                           "--check", "webhook.reinvocation")
    finally:
        _patch_first_webhook(world, "reinvocationPolicy", before)
    found = only(doc, "webhook.reinvocation")
    assert found["status"] == "warn" and code == 0
    assert found["evidence"] == {"expected": "IfNeeded", "actual": "Never"}
    assert '"value": "IfNeeded"' in found["remediation"]["commands"][-1]


def test_helm_chart_beside_the_addon_fails_single_install(world, env, wi) -> None:
    seeded = world["seeded"]
    helm = webhook.install_helm_webhook(seeded.cluster, seeded.tenant_id)
    try:
        code, doc = doctor(wi, "-n", NS, "--no-live")
    finally:
        helm.uninstall()
    found = only(doc, "webhook.single-install")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"]["actual"] == [
        f"{webhook.HELM_NAMESPACE}/{webhook.DEPLOYMENT_NAME}",
        f"{ADDON_NS}/{webhook.DEPLOYMENT_NAME}"]
    assert found["remediation"]["commands"][-1] == (
        f"helm uninstall workload-identity-webhook -n {webhook.HELM_NAMESPACE}")


def test_namespace_labelled_control_plane_is_excluded_and_unlabelling_fixes_it(
        world, env, wi) -> None:
    # the AKS admissions enforcer's expression: control-plane NotIn ["true"] (Azure/AKS#4002)
    world["store"].create("namespaces", None, {"metadata": {
        "name": "cp-team", "labels": {"control-plane": "true"}}})
    code, doc = doctor(wi, "-n", "cp-team", "--no-live")
    found = only(doc, "webhook.namespace-selector")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"]["actual"]["unmet"] == ["control-plane NotIn ['true']"]
    unlabel = "kubectl label namespace cp-team control-plane-"
    assert found["remediation"]["commands"][0] == unlabel
    assert "Remove the excluding label" in found["remediation"]["text"]
    kubectl(world, unlabel)
    code, doc = doctor(wi, "-n", "cp-team", "--no-live", "--check", "webhook.installed",
                       "--check", "webhook.namespace-selector")
    assert code == 0 and only(doc, "webhook.namespace-selector")["status"] == "ok"


def test_kube_system_is_excluded_by_the_aks_enforcer(world, env, wi) -> None:
    """AKS labels kube-system control-plane=true and kubernetes.azure.com/managedby=aks; the
    enforcer's NotIn expressions exclude it. Nothing to unlabel there."""
    code, doc = doctor(wi, "-n", "kube-system", "--no-live")
    found = only(doc, "webhook.namespace-selector")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"]["actual"]["unmet"] == [
        "control-plane NotIn ['true']", "kubernetes.azure.com/managedby NotIn ['aks']"]
    assert "another namespace" in found["remediation"]["text"]
    assert not any(c.startswith("kubectl label") for c in found["remediation"]["commands"])


def test_all_namespaces_checks_only_namespaces_that_use_workload_identity(
        world, env, wi) -> None:
    code, doc = doctor(wi, "-A", "--no-live", "--check", "webhook.installed",
                       "--check", "webhook.namespace-selector")
    summaries = [f["summary"] for f in findings(doc, "webhook.namespace-selector")]
    assert any(f"Namespace {NS} " in s for s in summaries)
    assert not any("kube-system" in s for s in summaries)
    assert code == 0


def test_missing_namespace_is_a_warning(world, env, wi) -> None:
    code, doc = doctor(wi, "-n", "no-such-ns", "--no-live", "--check", "webhook.installed",
                       "--check", "webhook.namespace-selector")
    found = only(doc, "webhook.namespace-selector")
    assert found["status"] == "warn" and "does not exist" in found["summary"]
    assert code == 0


def test_human_output_shows_the_failure_and_its_command(world, env, wi) -> None:
    before = _patch_first_webhook(world, "failurePolicy", "Ignore")
    try:
        run = wi("doctor", "-n", NS, "--no-live", "--check", "webhook.installed",
                 "--check", "webhook.failure-policy")  # the fixture looks for a raw JWT
    finally:
        _patch_first_webhook(world, "failurePolicy", before)
    assert run.code == 1
    assert "✗ Webhook failure policy is Fail" in run.out
    assert "$ kubectl patch mutatingwebhookconfiguration" in run.out
    assert world["seeded"].operator.secret not in run.out + run.err
