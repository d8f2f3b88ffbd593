"""`wi doctor`'s workload layer as a user runs it, against the lab: service accounts, their
annotations, and the pods and Deployments that use them. Each broken state lives in its own
namespace of one lab; where doctor prints a kubectl fix, the test runs it and doctor passes."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.lab.kube import scenarios
from wi_cli.lab.kube.errors import ApiError

USE = "azure.workload.identity/use"
CLIENT_ID = "azure.workload.identity/client-id"
TENANT_ID = "azure.workload.identity/tenant-id"
EXPIRATION = "azure.workload.identity/service-account-token-expiration"
SKIP = "azure.workload.identity/skip-containers"
PROXY = "azure.workload.identity/inject-proxy-sidecar"
OTHER_GUID = "0a1b2c3d-0000-4000-8000-000000000001"
SECRET_VALUE = "not-for-your-eyes-7Qx9"
V16_TOKEN_FILE = "/var/run/secrets/azure/wi/token/azure-identity-token"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("doctor-wl")) as world:
        world["kube_cache"] = str(world["folder"] / "kube-cache")
        world["client_id"] = world["seeded"].identity.client_id
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"],
                                             world["kubeconfig"]))


# -- seeding ---------------------------------------------------------------------------------------

def namespace(world: dict[str, Any], name: str) -> str:
    if world["store"].try_get("namespaces", None, name) is None:
        world["store"].create("namespaces", None, {"metadata": {"name": name}})
    return name


def make_sa(world: dict[str, Any], ns: str, name: str, annotations: dict | None = None,
            labels: dict | None = None) -> None:
    world["store"].create("serviceaccounts", ns, {"metadata": {
        "name": name, "annotations": annotations or {}, "labels": labels or {}}})


def container(name: str = "app", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", **extra}


def pod_spec(sa: str, containers: list | None = None, **extra: Any) -> dict[str, Any]:
    return {"serviceAccountName": sa, "containers": containers or [container()], **extra}


def make_pod(world: dict[str, Any], ns: str, name: str, sa: str, *, labelled: bool = True,
             annotations: dict | None = None, **spec: Any) -> dict[str, Any]:
    """Created through the API server, so the webhook mutates it as it would in AKS."""
    labels = {USE: "true"} if labelled else {}
    return world["store"].create("pods", ns, {
        "metadata": {"name": name, "labels": labels, "annotations": annotations or {}},
        "spec": pod_spec(sa, **spec)})


def make_deployment(world: dict[str, Any], ns: str, name: str, sa: str, *,
                    template_labels: dict | None = None, labels: dict | None = None,
                    annotations: dict | None = None, **spec: Any) -> None:
    world["store"].create("deployments", ns, {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name, **(
                     {USE: "true"} if template_labels is None else template_labels)},
                                           "annotations": annotations or {}},
                              "spec": pod_spec(sa, **spec)}}})


def deployment_pod(world: dict[str, Any], ns: str, app: str) -> dict[str, Any]:
    """The pod the lab's Deployment controller created (through the webhook, as in AKS)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pods, _ = world["store"].list("pods", ns, f"app={app}")
        if pods:
            return pods[0]
        time.sleep(0.05)
    raise AssertionError(f"no pod for Deployment {ns}/{app}")


# -- running wi and the fixes it prints ------------------------------------------------------------

def doctor(wi, *argv: str, live: bool = False) -> tuple[int, dict]:
    run = wi("doctor", *argv, *([] if live else ["--no-live"]), "-o", "json")
    return run.code, run.json


def findings(doc: dict, check_id: str, about: str = "") -> list[dict]:
    return [f for f in doc["findings"] if f["id"] == check_id and about in f["summary"]]


def only(doc: dict, check_id: str, about: str = "") -> dict:
    found = findings(doc, check_id, about)
    assert len(found) == 1, (check_id, about, [f["summary"] for f in doc["findings"]
                                               if f["id"] == check_id])
    return found[0]


def run_fix(world: dict[str, Any], wi, command: str) -> None:
    """Run a remediation command exactly as doctor printed it."""
    if command.startswith("wi "):
        assert wi(*command.split()[1:]).code == 0, command
        return
    assert command.startswith("kubectl ")
    done = subprocess.run(command.replace("kubectl ", "kubectl --request-timeout=10s ", 1),
                          shell=True, text=True, capture_output=True,
                          env={**os.environ, "KUBECONFIG": world["kubeconfig"],
                               "KUBECACHEDIR": world["kube_cache"]})
    assert done.returncode == 0, (command, done.stderr)


def fix_and_recheck(world: dict[str, Any], wi, finding: dict, *argv: str) -> dict:
    for command in finding["remediation"]["commands"]:
        run_fix(world, wi, command)
    code, doc = doctor(wi, *argv, "--check", finding["id"])
    assert code == 0, [f for f in doc["findings"] if f["status"] == "fail"]
    return doc


# -- healthy ---------------------------------------------------------------------------------------

def test_healthy_workload_after_bind_exits_zero(world, env, wi) -> None:
    ns = namespace(world, "wl-healthy")
    make_sa(world, ns, "app")
    assert wi("bind", "app", scenarios.IDENTITY_NAME, "-n", ns, "-o", "json").code == 0
    make_deployment(world, ns, "app", "app")
    pod = deployment_pod(world, ns, "app")
    assert {"AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"} <= {
        e["name"] for e in pod["spec"]["containers"][0]["env"]}
    code, doc = doctor(wi, "-n", ns, live=True)
    workload = [f for f in doc["findings"] if f["layer"] == "workload"]
    assert {f["status"] for f in workload} <= {"ok", "skip"}, workload
    assert {f["id"] for f in workload if f["status"] == "ok"} >= {
        "workload.service-account", "workload.client-id", "workload.tenant-id",
        "workload.token-expiration", "workload.pod-label", "workload.injection",
        "workload.env-shadowing", "workload.token-path"}
    assert world["client_id"] in only(doc, "workload.injection")["summary"]
    assert {f["status"] for f in doc["findings"] if f["layer"] == "live"} <= {"ok"}
    assert code == 0, [f for f in doc["findings"] if f["status"] in ("fail", "error")]
    run = wi("doctor", "-n", ns, "--no-live")
    assert run.code == 0 and "No problems found." in run.out


# -- the service account ---------------------------------------------------------------------------

def test_named_service_account_missing_fails(world, env, wi) -> None:
    ns = namespace(world, "wl-sa")
    code, doc = doctor(wi, "-n", ns, "--service-account", "ghost")
    found = only(doc, "workload.service-account")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"] == {"expected": f"ServiceAccount {ns}/ghost", "actual": None}
    assert found["remediation"]["commands"] == [f"kubectl create serviceaccount ghost -n {ns}",
                                                f"wi bind ghost IDENTITY -n {ns}"]
    assert only(doc, "workload.client-id")["status"] == "skip"  # nothing to annotate


def test_pod_whose_service_account_was_deleted_fails_until_recreated(world, env, wi) -> None:
    ns = namespace(world, "wl-sa-gone")
    make_sa(world, ns, "gone", {CLIENT_ID: world["client_id"]})
    make_pod(world, ns, "orphan", "gone")
    world["store"].delete("serviceaccounts", ns, "gone")
    code, doc = doctor(wi, "-n", ns)
    found = only(doc, "workload.service-account")
    assert code == 1 and found["status"] == "fail" and f"pod {ns}/orphan" in found["summary"]
    run_fix(world, wi, found["remediation"]["commands"][0])
    code, doc = doctor(wi, "-n", ns, "--check", "workload.service-account")
    assert code == 0 and only(doc, "workload.service-account")["status"] == "ok"


# -- client-id -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cid_ns(world: dict[str, Any]) -> str:
    return namespace(world, "wl-cid")


@pytest.mark.parametrize("sa, key", [("typo", "azure.workload.identity/client_id"),
                                     ("camel", "azure.workload.identity/clientId")])
def test_near_miss_client_id_key_fails_and_the_fix_works(world, env, wi, cid_ns, sa,
                                                         key) -> None:
    make_sa(world, cid_ns, sa, {key: world["client_id"]})
    make_pod(world, cid_ns, f"{sa}-pod", sa)
    code, doc = doctor(wi, "-n", cid_ns, "--service-account", sa)
    found = only(doc, "workload.client-id")
    assert code == 1 and found["status"] == "fail"
    assert key in found["summary"] and "near miss" in found["summary"]
    assert found["evidence"]["actual"]["near-miss keys"] == {key: world["client_id"]}
    commands = found["remediation"]["commands"]
    assert commands[0] == (f"kubectl annotate sa {sa} -n {cid_ns} "
                           f"{CLIENT_ID}={world['client_id']} --overwrite")
    assert f"kubectl annotate sa {sa} -n {cid_ns} {key}-" in commands
    assert commands[-1].startswith(f"kubectl get pod {sa}-pod -n {cid_ns} -o yaml")
    if sa != "typo":
        return  # one run of the fix is enough
    doc = fix_and_recheck(world, wi, found, "-n", cid_ns, "--service-account", sa)
    assert only(doc, "workload.client-id")["status"] == "ok"
    code, doc = doctor(wi, "-n", cid_ns, "--service-account", sa, "--check",
                       "workload.injection")
    assert code == 0, "the re-created pod got AZURE_CLIENT_ID"


def test_client_id_on_a_service_instead_of_the_sa_fails(world, env, wi, cid_ns) -> None:
    make_sa(world, cid_ns, "svc")
    world["store"].create("services", cid_ns, {
        "metadata": {"name": "svc", "annotations": {CLIENT_ID: world["client_id"]}},
        "spec": {"selector": {"app": "svc"}, "ports": [{"port": 80}]}})
    make_pod(world, cid_ns, "svc-pod", "svc")
    code, doc = doctor(wi, "-n", cid_ns, "--service-account", "svc")
    found = only(doc, "workload.client-id")
    assert code == 1 and found["status"] == "fail"
    assert f"service {cid_ns}/svc" in found["summary"]
    assert found["evidence"]["actual"]["on other objects"] == {
        f"service {cid_ns}/svc": {CLIENT_ID: world["client_id"]}}
    commands = found["remediation"]["commands"]
    assert commands[0].endswith(f"{CLIENT_ID}={world['client_id']} --overwrite")
    assert f"kubectl annotate service svc -n {cid_ns} {CLIENT_ID}-" in commands


def test_client_id_on_the_pod_instead_of_the_sa_fails(world, env, wi, cid_ns) -> None:
    make_sa(world, cid_ns, "onpod")
    make_pod(world, cid_ns, "onpod-pod", "onpod", annotations={CLIENT_ID: world["client_id"]})
    code, doc = doctor(wi, "-n", cid_ns, "--service-account", "onpod")
    found = only(doc, "workload.client-id")
    assert code == 1 and found["status"] == "fail"
    assert f"pod {cid_ns}/onpod-pod" in found["summary"]


@pytest.mark.parametrize("sa, value, fragment, command", [
    ("empty", "", "is empty", "wi bind empty IDENTITY -n wl-cid"),
    ("absent", None, f"no {CLIENT_ID} annotation", "wi bind absent IDENTITY -n wl-cid"),
    ("by-name", scenarios.IDENTITY_NAME, "is not a GUID",
     f"wi bind by-name {scenarios.IDENTITY_NAME} -n wl-cid"),
])
def test_client_id_missing_empty_or_not_a_guid_fails(world, env, wi, cid_ns, sa, value,
                                                     fragment, command) -> None:
    make_sa(world, cid_ns, sa, None if value is None else {CLIENT_ID: value})
    make_pod(world, cid_ns, f"{sa}-pod", sa)
    code, doc = doctor(wi, "-n", cid_ns, "--service-account", sa)
    found = only(doc, "workload.client-id")
    assert code == 1 and found["status"] == "fail" and fragment in found["summary"]
    assert found["evidence"]["actual"][CLIENT_ID] == value
    assert found["remediation"]["commands"][0] == command


def test_wi_bind_by_name_fixes_a_client_id_that_holds_the_name(world, env, wi,
                                                               cid_ns) -> None:
    make_sa(world, cid_ns, "fixme", {CLIENT_ID: scenarios.IDENTITY_NAME})
    code, doc = doctor(wi, "-n", cid_ns, "--service-account", "fixme")
    found = only(doc, "workload.client-id")
    assert found["status"] == "fail"
    assert found["remediation"]["commands"] == [
        f"wi bind fixme {scenarios.IDENTITY_NAME} -n {cid_ns}"]
    doc = fix_and_recheck(world, wi, found, "-n", cid_ns, "--service-account", "fixme")
    assert world["client_id"] in only(doc, "workload.client-id")["summary"]


# -- tenant-id -------------------------------------------------------------------------------------

@pytest.mark.parametrize("sa, value, fragment", [
    ("tenant-empty", "", "is empty"),
    ("tenant-bad-chars", "contoso_tenant!", "AADSTS900023"),
    ("tenant-other", "11111111-2222-3333-4444-555555555555", "AADSTS700016"),
])
def test_bad_tenant_id_fails_and_the_fix_sets_the_identitys_tenant(world, env, wi, sa, value,
                                                                   fragment) -> None:
    ns = namespace(world, "wl-cid")
    tenant = world["seeded"].tenant_id
    make_sa(world, ns, sa, {CLIENT_ID: world["client_id"], TENANT_ID: value})
    code, doc = doctor(wi, "-n", ns, "--service-account", sa, "--no-live")
    found = only(doc, "workload.tenant-id")
    assert code == 1 and found["status"] == "fail" and fragment in found["summary"]
    assert found["evidence"] == {"expected": tenant, "actual": {TENANT_ID: value}}
    assert found["remediation"]["commands"] == [
        f"kubectl annotate sa {sa} -n {ns} {TENANT_ID}={tenant} --overwrite"]
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", sa)


def test_a_domain_tenant_is_accepted(world, env, wi, cid_ns) -> None:
    make_sa(world, cid_ns, "tenant-domain", {CLIENT_ID: world["client_id"],
                                             TENANT_ID: "contoso.onmicrosoft.com"})
    code, doc = doctor(wi, "-n", cid_ns, "--service-account", "tenant-domain", "--check",
                       "workload.tenant-id")
    found = only(doc, "workload.tenant-id")
    assert code == 0 and found["status"] == "ok" and "domain name" in found["summary"]


def test_valid_tenant_id_passes(world, env, wi, cid_ns) -> None:
    make_sa(world, cid_ns, "tenant-ok", {CLIENT_ID: world["client_id"],
                                         TENANT_ID: world["seeded"].tenant_id})
    code, doc = doctor(wi, "-n", cid_ns, "--service-account", "tenant-ok", "--check",
                       "workload.tenant-id")
    assert code == 0
    assert world["seeded"].tenant_id in only(doc, "workload.tenant-id")["summary"]


# -- token expiration ------------------------------------------------------------------------------

def test_token_expiration_out_of_range_on_sa_fails_and_the_fix_works(world, env, wi) -> None:
    ns = namespace(world, "wl-exp")
    make_sa(world, ns, "short", {CLIENT_ID: world["client_id"], EXPIRATION: "100"})
    with pytest.raises(ApiError, match="token expiration 100 not valid"):  # the lab agrees
        make_pod(world, ns, "short-pod", "short")
    code, doc = doctor(wi, "-n", ns, "--service-account", "short")
    found = only(doc, "workload.token-expiration")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"] == {"expected": "3600..86400", "actual": "100"}
    assert found["remediation"]["commands"] == [
        f"kubectl annotate sa short -n {ns} {EXPIRATION}=3600 --overwrite"]
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "short")
    make_pod(world, ns, "short-pod", "short")


def test_token_expiration_on_a_deployment_template_fails_and_the_patch_works(
        world, env, wi) -> None:
    ns = namespace(world, "wl-exp")
    make_sa(world, ns, "long", {CLIENT_ID: world["client_id"]})
    make_deployment(world, ns, "long", "long", annotations={EXPIRATION: "90000"})
    code, doc = doctor(wi, "-n", ns, "--service-account", "long")
    found = only(doc, "workload.token-expiration", "deployment")
    assert code == 1 and found["status"] == "fail"
    assert found["remediation"]["commands"][0].startswith(
        f"kubectl patch deployment long -n {ns} --type=merge")
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "long")


# -- the pod label ---------------------------------------------------------------------------------

def test_label_on_deployment_metadata_only_fails_and_the_patch_works(world, env, wi) -> None:
    ns = namespace(world, "wl-label")
    make_sa(world, ns, "meta", {CLIENT_ID: world["client_id"]})
    make_deployment(world, ns, "meta", "meta", template_labels={}, labels={USE: "true"})
    code, doc = doctor(wi, "-n", ns, "--service-account", "meta")
    found = only(doc, "workload.pod-label")
    assert code == 1 and found["status"] == "fail"
    assert "Deployment's metadata, not on its pod template" in found["summary"]
    assert found["evidence"]["actual"]["deployment labels"] == "true"
    assert found["evidence"]["actual"]["pod labels"] is None
    assert found["remediation"]["commands"] == [
        f"kubectl patch deployment meta -n {ns} --type=merge -p "
        f"'{{\"spec\":{{\"template\":{{\"metadata\":{{\"labels\":{{\"{USE}\":\"true\"}}}}}}}}}}'"]
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "meta")


def test_label_on_the_service_account_only_fails_and_recreating_the_pod_works(
        world, env, wi) -> None:
    ns = namespace(world, "wl-label")
    make_sa(world, ns, "old", {CLIENT_ID: world["client_id"]}, labels={USE: "true"})
    make_pod(world, ns, "old-pod", "old", labelled=False)
    code, doc = doctor(wi, "-n", ns, "--service-account", "old")
    found = only(doc, "workload.pod-label")
    assert code == 1 and found["status"] == "fail"
    assert "service account only" in found["summary"]
    assert found["evidence"]["actual"]["service account labels"] == "true"
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "old")
    code, doc = doctor(wi, "-n", ns, "--service-account", "old", "--check",
                       "workload.injection")
    assert code == 0 and only(doc, "workload.injection")["status"] == "ok"


def test_unlabelled_bare_pod_fails(world, env, wi) -> None:
    ns = namespace(world, "wl-label")
    make_sa(world, ns, "nolabel", {CLIENT_ID: world["client_id"]})
    make_pod(world, ns, "nolabel-pod", "nolabel", labelled=False)
    code, doc = doctor(wi, "-n", ns, "--service-account", "nolabel")
    found = only(doc, "workload.pod-label")
    assert code == 1 and found["status"] == "fail"
    assert f'lack the label {USE}: "true"' in found["summary"]


# -- injection -------------------------------------------------------------------------------------

def test_pod_created_before_the_annotation_fails_until_restarted(world, env, wi) -> None:
    ns = namespace(world, "wl-inject")
    make_sa(world, ns, "late")
    make_pod(world, ns, "late-pod", "late")
    world["store"].patch("serviceaccounts", ns, "late", {"metadata": {"annotations": {
        CLIENT_ID: world["client_id"]}}}, "application/merge-patch+json")
    code, doc = doctor(wi, "-n", ns, "--service-account", "late")
    found = only(doc, "workload.injection")
    assert code == 1 and found["status"] == "fail" and "created before" in found["summary"]
    assert found["evidence"] == {"expected": world["client_id"], "actual": {"app": None}}
    assert only(doc, "workload.client-id")["status"] == "ok"
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "late")


def test_stale_client_id_after_the_annotation_changed_fails(world, env, wi) -> None:
    ns = namespace(world, "wl-inject")
    make_sa(world, ns, "changed", {CLIENT_ID: OTHER_GUID})
    make_deployment(world, ns, "changed", "changed")
    deployment_pod(world, ns, "changed")
    world["store"].patch("serviceaccounts", ns, "changed", {"metadata": {"annotations": {
        CLIENT_ID: world["client_id"]}}}, "application/merge-patch+json")
    code, doc = doctor(wi, "-n", ns, "--service-account", "changed")
    found = only(doc, "workload.injection")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"] == {"expected": world["client_id"], "actual": {"app": OTHER_GUID}}
    assert found["remediation"]["commands"] == [
        f"kubectl rollout restart deployment/changed -n {ns}"]
    assert only(doc, "workload.env-shadowing")["status"] == "ok"  # the webhook set it


def test_pod_labelled_after_creation_was_never_mutated(world, env, wi) -> None:
    ns = namespace(world, "wl-inject")
    make_sa(world, ns, "unmutated", {CLIENT_ID: world["client_id"]})
    make_pod(world, ns, "unmutated-pod", "unmutated", labelled=False)
    world["store"].patch("pods", ns, "unmutated-pod", {"metadata": {"labels": {USE: "true"}}},
                         "application/merge-patch+json")
    code, doc = doctor(wi, "-n", ns, "--service-account", "unmutated")
    found = only(doc, "workload.injection")
    assert code == 1 and found["status"] == "fail" and "never mutated" in found["summary"]
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "unmutated")


# -- credentials that shadow workload identity -----------------------------------------------------

def test_client_secret_in_deployment_env_fails_and_set_env_fixes(world, env, wi) -> None:
    ns = namespace(world, "wl-shadow")
    make_sa(world, ns, "sp", {CLIENT_ID: world["client_id"]})
    make_deployment(world, ns, "sp", "sp", containers=[container(env=[
        {"name": "AZURE_CLIENT_SECRET", "value": SECRET_VALUE}])])
    code, doc = doctor(wi, "-n", ns, "--service-account", "sp")
    found = only(doc, "workload.env-shadowing")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"]["actual"] == [
        {"container": "app", "variable": "AZURE_CLIENT_SECRET", "from": "env"}]
    assert found["remediation"]["commands"] == [
        f"kubectl set env deployment/sp -n {ns} -c app AZURE_CLIENT_SECRET-"]
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "sp")


def test_secret_and_configmap_keys_loaded_with_envfrom_fail_without_leaking_values(
        world, env, wi) -> None:
    ns = namespace(world, "wl-shadow")
    store = world["store"]
    make_sa(world, ns, "envfrom", {CLIENT_ID: world["client_id"]})
    store.create("secrets", ns, {"metadata": {"name": "sp-creds"}, "data": {
        "AZURE_CLIENT_SECRET": base64.b64encode(SECRET_VALUE.encode()).decode()}})
    store.create("configmaps", ns, {"metadata": {"name": "sp-cert"},
                                    "data": {"CERTIFICATE_PATH": "/certs/sp.pem"}})
    make_pod(world, ns, "envfrom-pod", "envfrom", containers=[container(envFrom=[
        {"secretRef": {"name": "sp-creds"}},
        {"configMapRef": {"name": "sp-cert"}, "prefix": "AZURE_CLIENT_"}])])
    code, doc = doctor(wi, "-n", ns, "--service-account", "envfrom")
    found = only(doc, "workload.env-shadowing")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"]["actual"] == [
        {"container": "app", "variable": "AZURE_CLIENT_SECRET",
         "from": "Secret sp-creds (envFrom)"},
        {"container": "app", "variable": "AZURE_CLIENT_CERTIFICATE_PATH",
         "from": "ConfigMap sp-cert (envFrom)"}]
    commands = found["remediation"]["commands"]
    assert commands[0] == (f"kubectl patch secret sp-creds -n {ns} --type=json -p "
                           "'[{\"op\": \"remove\", \"path\": \"/data/AZURE_CLIENT_SECRET\"}]'")
    fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "envfrom")
    for argv in (["-o", "json"], []):
        run = wi("doctor", "-n", ns, "--no-live", *argv)  # the fixture looks for a raw JWT
        assert SECRET_VALUE not in run.out + run.err
        assert world["seeded"].operator.secret not in run.out + run.err


def test_user_set_client_id_differing_from_the_annotation_fails(world, env, wi) -> None:
    ns = namespace(world, "wl-shadow")
    make_sa(world, ns, "own", {CLIENT_ID: world["client_id"]})
    make_pod(world, ns, "own-pod", "own", containers=[container(env=[
        {"name": "AZURE_CLIENT_ID", "value": OTHER_GUID}, {"name": "LOG_LEVEL", "value": "info"}])])
    make_deployment(world, ns, "own", "own", containers=[container(env=[
        {"name": "AZURE_CLIENT_ID", "value": OTHER_GUID}])])
    code, doc = doctor(wi, "-n", ns, "--service-account", "own")
    assert code == 1
    bare = only(doc, "workload.env-shadowing", "pod ")
    assert bare["status"] == "fail" and bare["evidence"]["actual"] == [
        {"container": "app", "variable": "AZURE_CLIENT_ID", "from": "env"}]
    assert bare["evidence"]["expected"]["AZURE_CLIENT_ID"] == world["client_id"]
    deployment = only(doc, "workload.env-shadowing", "deployment ")
    assert deployment["remediation"]["commands"] == [
        f"kubectl set env deployment/own -n {ns} -c app AZURE_CLIENT_ID-"]
    assert {f["status"] for f in findings(doc, "workload.injection")} == {"ok"}  # user's own
    run_fix(world, wi, deployment["remediation"]["commands"][0])
    doc = fix_and_recheck(world, wi, bare, "-n", ns, "--service-account", "own")
    assert {f["status"] for f in findings(doc, "workload.env-shadowing")} == {"ok"}


# -- skip-containers and token path ----------------------------------------------------------------

def test_skip_containers_warns_for_some_and_fails_for_all(world, env, wi) -> None:
    ns = namespace(world, "wl-skip")
    make_sa(world, ns, "skip", {CLIENT_ID: world["client_id"]})
    make_pod(world, ns, "skip-some", "skip", annotations={SKIP: "sidecar"},
             containers=[container(), container("sidecar")])
    make_deployment(world, ns, "skip-all", "skip", annotations={SKIP: "app; "})
    code, doc = doctor(wi, "-n", ns, "--service-account", "skip")
    some = only(doc, "workload.skip-containers", "skip-some")
    assert some["status"] == "warn"
    assert some["evidence"]["actual"] == {"skipped": ["sidecar"], "containers": ["app", "sidecar"]}
    every = only(doc, "workload.skip-containers", "skip-all")
    assert code == 1 and every["status"] == "fail"
    assert "~1skip-containers" in every["remediation"]["commands"][0]
    assert only(doc, "workload.injection", "skip-some")["status"] == "ok"  # skipped: not expected
    run_fix(world, wi, every["remediation"]["commands"][0])
    code, doc = doctor(wi, "-n", ns, "--service-account", "skip", "--check",
                       "workload.skip-containers")
    assert code == 0 and not findings(doc, "workload.skip-containers", "skip-all")


def test_hard_coded_old_token_path_fails(world, env, wi) -> None:
    ns = namespace(world, "wl-path")
    make_sa(world, ns, "path", {CLIENT_ID: world["client_id"]})
    make_pod(world, ns, "path-pod", "path", containers=[container(env=[
        {"name": "TOKEN", "value": "/var/run/secrets/azure/tokens/azure-identity-token"}])])
    code, doc = doctor(wi, "-n", ns)
    found = only(doc, "workload.token-path")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"] == {"expected": V16_TOKEN_FILE,
                                 "actual": ["/var/run/secrets/azure/tokens"]}


# -- proxy, hostNetwork, Windows -------------------------------------------------------------------

def test_proxy_annotation_false_fails_and_removing_it_fixes(world, env, wi) -> None:
    ns = namespace(world, "wl-proxy")
    make_sa(world, ns, "proxy", {CLIENT_ID: world["client_id"]})
    make_deployment(world, ns, "proxy-false", "proxy", annotations={PROXY: "false"})
    code, doc = doctor(wi, "-n", ns, "--service-account", "proxy")
    found = only(doc, "workload.proxy")
    assert code == 1 and found["status"] == "fail" and "'false'" in found["summary"]
    assert "~1inject-proxy-sidecar" in found["remediation"]["commands"][0]
    doc = fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "proxy")
    assert only(doc, "workload.proxy")["status"] == "skip"


def test_proxy_with_host_network_fails(world, env, wi) -> None:
    ns = namespace(world, "wl-proxy")
    make_sa(world, ns, "hostnet", {CLIENT_ID: world["client_id"]})
    with pytest.raises(ApiError, match="hostNetwork is set to true"):  # the lab agrees
        make_pod(world, ns, "hostnet-pod", "hostnet", annotations={PROXY: "true"},
                 hostNetwork=True)
    make_deployment(world, ns, "hostnet", "hostnet", annotations={PROXY: "true"},
                    hostNetwork=True)
    code, doc = doctor(wi, "-n", ns, "--service-account", "hostnet")
    found = only(doc, "workload.proxy")
    assert code == 1 and found["status"] == "fail" and "hostNetwork" in found["summary"]
    assert found["evidence"]["actual"]["hostNetwork"] is True


def test_windows_deployment_without_spec_os_fails_and_the_patch_works(world, env, wi) -> None:
    ns = namespace(world, "wl-win")
    make_sa(world, ns, "win", {CLIENT_ID: world["client_id"]})
    make_deployment(world, ns, "win", "win", nodeSelector={"kubernetes.io/os": "windows"})
    code, doc = doctor(wi, "-n", ns, "--service-account", "win")
    found = only(doc, "workload.windows")
    assert code == 1 and found["status"] == "fail"
    assert found["evidence"] == {"expected": "windows", "actual": None}
    doc = fix_and_recheck(world, wi, found, "-n", ns, "--service-account", "win")
    assert only(doc, "workload.windows")["status"] == "ok"


# -- token file access (#29) and virtual nodes (#45) -------------------------------------------------

def test_non_root_without_fs_group_warns_only_before_kubernetes_1_19(world, env, wi) -> None:
    """Since 1.19 the projected token is readable by the pod's user without fsGroup
    (kubernetes/website projected-volumes.md): on 1.33 it is fine; an 1.18 server warns, and
    the printed fix clears it."""
    ns = namespace(world, "wl-nonroot")
    make_sa(world, ns, "app", {CLIENT_ID: world["client_id"]})
    make_deployment(world, ns, "web", "app", securityContext={"runAsUser": 1000})
    code, doc = doctor(wi, "-n", ns, "--check", "workload.token-file-access")
    assert code == 0 and only(doc, "workload.token-file-access")["status"] == "ok"
    api = world["seeded"].cluster.api
    api.git_version = "v1.18.20"
    try:
        code, doc = doctor(wi, "-n", ns, "--check", "workload.token-file-access")
        finding = only(doc, "workload.token-file-access", f"{ns}/web")
        assert code == 0 and finding["status"] == "warn"
        assert finding["evidence"]["actual"] is None
        assert "fsGroup" in finding["evidence"]["expected"]
        doc = fix_and_recheck(world, wi, finding, "-n", ns)
        assert only(doc, "workload.token-file-access", f"{ns}/web")["status"] == "ok"
        make_deployment(world, ns, "root", "app")
        _, doc = doctor(wi, "-n", ns, "--check", "workload.token-file-access")
        assert only(doc, "workload.token-file-access", f"{ns}/root")["status"] == "ok"
    finally:
        api.git_version = "v1.33.2"


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_finished_pod_from_before_the_annotation_is_history(world, env, wi, phase) -> None:
    """A Job's pod that ran before the service account was (re)annotated is not a failure: its
    next run is a new pod, which the webhook mutates with the current values."""
    ns = namespace(world, f"wl-job-{phase.lower()}")
    make_sa(world, ns, "batch", {CLIENT_ID: world["client_id"]})
    make_pod(world, ns, "nightly-1", "batch")
    world["store"].patch("serviceaccounts", ns, "batch", {"metadata": {"annotations": {
        CLIENT_ID: "00000000-0000-4000-8000-000000000001"}}}, "application/merge-patch+json")
    code, doc = doctor(wi, "-n", ns, "--check", "workload.injection")
    assert only(doc, "workload.injection", "nightly-1")["status"] == "fail"  # still running
    world["store"].patch("pods", ns, "nightly-1", {"status": {"phase": phase}},
                         "application/merge-patch+json", subresource="status")
    code, doc = doctor(wi, "-n", ns, "--check", "workload.injection")
    finding = only(doc, "workload.injection", "nightly-1")
    assert code == 0 and finding["status"] == "ok"
    assert f"finished ({phase})" in finding["summary"] and "next run" in finding["summary"]


def test_virtual_node_workload_fails_with_the_fix(world, env, wi) -> None:
    ns = namespace(world, "wl-aci")
    make_sa(world, ns, "app", {CLIENT_ID: world["client_id"]})
    make_deployment(world, ns, "web", "app", nodeSelector={"type": "virtual-kubelet"})
    code, doc = doctor(wi, "-n", ns, "--check", "workload.virtual-node")
    finding = only(doc, "workload.virtual-node", f"{ns}/web")
    assert code == 1 and finding["status"] == "fail"
    assert finding["evidence"] == {"expected": "a VM node pool", "actual": "virtual-kubelet"}
    doc = fix_and_recheck(world, wi, finding, "-n", ns)
    assert only(doc, "workload.virtual-node")["status"] == "ok"
