"""`wi bind` / `wi unbind` as a user runs them, against the lab (real SDKs, real kubernetes
client; the lab's ARM and API server hold the truth)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.lab.kube import scenarios

NS = "demo"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("healthy", tmp_path_factory.mktemp("bind")) as world:
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"],
                                             world["kubeconfig"]))


def fics(world: dict[str, Any], name: str = scenarios.IDENTITY_NAME) -> list:
    lab = world["lab"]
    seeded = world["seeded"]
    ident = lab.azure.identity(seeded.subscription_id, seeded.resource_group, name)
    return list(ident.fics.values())


def sa(world: dict[str, Any], name: str, ns: str = NS) -> dict | None:
    store = world["seeded"].cluster.store
    try:
        return store.get("serviceaccounts", ns, name)
    except Exception:  # noqa: BLE001 - the store raises ApiError(404) for a missing object
        return None


def make_sa(world: dict[str, Any], name: str, ns: str = NS) -> None:
    world["seeded"].cluster.store.create("serviceaccounts", ns, {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}})


def kubectl(world: dict[str, Any], *args: str) -> str:
    return subprocess.run(["kubectl", "--request-timeout=10s", *args], check=True, text=True,
                          capture_output=True,
                          env={**os.environ, "KUBECONFIG": world["kubeconfig"]}).stdout


def test_fresh_bind_then_three_reruns_change_nothing(world, env, wi) -> None:
    make_sa(world, "app1")
    before = len(fics(world))
    run = wi("bind", "app1", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    steps = {s["object"]: s for s in doc["data"]["steps"]}
    assert (steps["FederatedIdentityCredential"]["action"],
            steps["FederatedIdentityCredential"]["status"]) == ("create", "applied")
    assert steps["FederatedIdentityCredential"]["name"] == f"{NS}-app1"
    assert (steps["ServiceAccount"]["action"], steps["ServiceAccount"]["status"]) == \
        ("update", "applied")
    new = [f for f in fics(world) if f.subject == f"system:serviceaccount:{NS}:app1"]
    assert len(fics(world)) == before + 1 and len(new) == 1
    seeded = world["seeded"]
    assert new[0].issuer == seeded.issuer_url and new[0].issuer.endswith("/")
    assert new[0].audiences == ["api://AzureADTokenExchange"]
    annotations = sa(world, "app1")["metadata"]["annotations"]
    assert annotations["azure.workload.identity/client-id"] == seeded.identity.client_id
    assert annotations["azure.workload.identity/tenant-id"] == seeded.tenant_id
    for _ in range(3):
        run = wi("bind", "app1", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
        doc = run.json
        assert run.code == 0
        assert {s["status"] for s in doc["data"]["steps"]} == {"unchanged"}
    assert len(fics(world)) == before + 1


def test_human_output_names_identity_and_next_command(world, env, wi) -> None:
    make_sa(world, "app-human")
    scope = (f"/subscriptions/{world['seeded'].subscription_id}/resourceGroups/"
             f"{world['seeded'].resource_group}")
    run = wi("bind", "app-human", scenarios.IDENTITY_NAME, "-n", NS,
             "--role", "Key Vault Secrets User", "--scope", scope, columns=80)
    assert run.code == 0
    assert "wi doctor -n demo --service-account app-human" in run.out
    assert world["seeded"].identity.client_id in run.err
    lines = [" ".join(line.split()) for line in run.out.splitlines()]
    # at 80 columns the values a user compares or copies are whole, each on its line
    subject = f"system:serviceaccount:{NS}:app-human"
    assert f"{world['seeded'].issuer_url} → {subject}" in lines
    assert "created FederatedIdentityCredential demo-app-human" in lines
    assert f"created RoleAssignment Key Vault Secrets User @ {scope}" in lines
    assert "…" not in run.out


@pytest.mark.parametrize("argv, code, fragment", [
    (["bind", "Bad_SA", scenarios.IDENTITY_NAME, "-n", NS], 2, "not a valid name"),
    (["bind", "app", scenarios.IDENTITY_NAME, "-n", "Bad NS"], 2, "not a valid name"),
    (["bind", "app", "no such identity!", "-n", NS], 2, "not a name, a resource id"),
    (["bind", "app", scenarios.IDENTITY_NAME, "-n", NS, "--role", "Reader"], 2, "pair by position"),
    (["bind", "app", "unknown-identity", "-n", NS], 3, "No user-assigned identity named"),
    (["bind", "missing-sa", scenarios.IDENTITY_NAME, "-n", NS], 3, "does not exist"),
    (["bind", "app", scenarios.IDENTITY_NAME, "-n", NS, "--role", "Reader", "--scope",
      "notascope"], 2, "is not an Azure scope"),
    (["bind", "app", scenarios.IDENTITY_NAME, "-n", NS, "--role", "Reader", "--scope",
      "/subscriptions/0/resourceGroups/{"], 2, "is not an Azure scope"),
    (["bind", "app", scenarios.IDENTITY_NAME, "-n", NS, "--role", "Reader\n", "--scope",
      "/subscriptions/0"], 2, "has a control character"),
    (["bind", "app", scenarios.IDENTITY_NAME, "-n", "nowhere"], 3, "Namespace nowhere does not"),
])
def test_bad_input_exits_non_zero_and_changes_nothing(world, env, wi, argv, code, fragment) -> None:
    before = [(f.name, f.subject) for f in fics(world)]
    run = wi(*argv)
    assert run.code == code, run.err
    assert fragment in run.err
    assert [(f.name, f.subject) for f in fics(world)] == before


def test_create_makes_the_service_account(world, env, wi) -> None:
    run = wi("bind", "made-by-wi", scenarios.IDENTITY_NAME, "-n", NS, "--create", "-o", "json")
    assert run.code == 0
    assert sa(world, "made-by-wi")["metadata"]["annotations"]["azure.workload.identity/client-id"]


def test_twenty_fic_limit_is_refused_before_writing(world, env, wi) -> None:
    lab, seeded = world["lab"], world["seeded"]
    full = lab.azure.add_identity(seeded.subscription_id, seeded.resource_group, "full-identity")
    for i in range(20):
        lab.azure.add_fic(full, f"fic-{i:02d}", seeded.issuer_url, f"system:serviceaccount:x:sa{i}")
    make_sa(world, "app20")
    run = wi("bind", "app20", "full-identity", "-n", NS)
    assert run.code == 5 and "20 federated credentials" in run.err and "fic-00" in run.err
    assert len(full.fics) == 20


def test_authorization_failed_names_the_missing_permission(world, env, wi, monkeypatch) -> None:
    lab, seeded = world["lab"], world["seeded"]
    reader = lab.azure.add_service_principal(seeded.tenant_id, "reader-op")
    lab.azure.add_role_assignment(f"/subscriptions/{seeded.subscription_id}", "Reader", reader.object_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", reader.client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", reader.secret)
    make_sa(world, "app-ro")
    before = len(fics(world))
    run = wi("bind", "app-ro", scenarios.IDENTITY_NAME, "-n", NS)
    assert run.code == 4
    assert "federatedIdentityCredentials/write" in run.err
    assert len(fics(world)) == before


def test_throttling_beyond_the_retry_policy_is_one_sentence(world, env, wi) -> None:
    lab, seeded = world["lab"], world["seeded"]
    prefix = f"/subscriptions/{seeded.subscription_id}/providers/Microsoft.ManagedIdentity"
    lab.arm.faults.fail_next(prefix, count=10, status=429, retry_after=1)
    try:
        run = wi("bind", "app1", scenarios.IDENTITY_NAME, "-n", NS)
    finally:
        lab.arm.faults.clear()
    assert run.code == 4
    assert "throttling" in run.err and "retries ran out" in run.err
    assert run.err.count("Error:") == 1


def test_two_processes_binding_one_identity_at_once_both_succeed(world, env) -> None:
    for name in ("par-a", "par-b"):
        make_sa(world, name)
    procs = [subprocess.Popen([sys.executable, "-m", "wi_cli", "bind", name, scenarios.IDENTITY_NAME,
                               "-n", NS, "-o", "json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
             for name in ("par-a", "par-b")]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    subjects = {f.subject for f in fics(world)}
    assert {f"system:serviceaccount:{NS}:par-a", f"system:serviceaccount:{NS}:par-b"} <= subjects


def test_issuer_from_aks_and_oidc_off_is_a_precondition(world, env, wi) -> None:
    lab, seeded = world["lab"], world["seeded"]
    make_sa(world, "app-aks")
    run = wi("bind", "app-aks", scenarios.IDENTITY_NAME, "-n", NS,
             "--cluster", seeded.cluster_name, "--resource-group", seeded.resource_group,
             "-o", "json")
    doc = run.json
    assert run.code == 0 and doc["data"]["issuer"] == seeded.issuer_url
    assert doc["data"]["issuer_source"] == f"AKS cluster {seeded.cluster_name}"
    from wi_cli.lab.azure_state import ManagedCluster

    lab.azure.add_cluster(ManagedCluster(seeded.subscription_id, seeded.resource_group,
                                         "no-oidc", "westeurope", oidc_issuer_enabled=False))
    run = wi("bind", "app-aks", scenarios.IDENTITY_NAME, "-n", NS,
             "--cluster", "no-oidc", "--resource-group", seeded.resource_group)
    assert run.code == 5 and "--enable-oidc-issuer" in run.err


def test_issuer_from_the_api_server_discovery_document(world, env, wi) -> None:
    make_sa(world, "app-disc")
    run = wi("bind", "app-disc", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 0
    assert doc["data"]["issuer"] == world["seeded"].issuer_url
    assert doc["data"]["issuer_source"] == "the API server's discovery document"


def _seed_deployment(world: dict[str, Any], name: str, sa_name: str, labelled: bool = True) -> None:
    """A Deployment and the pod the lab's controllers create for it (ReplicaSet, webhook)."""
    store = world["seeded"].cluster.store
    labels = {"app": name, **({"azure.workload.identity/use": "true"} if labelled else {})}
    store.create("deployments", NS, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"serviceAccountName": sa_name,
                                       "containers": [{"name": "c", "image": "nginx"}]}}}})
    deadline = time.monotonic() + 10
    while not store.list("pods", NS, f"app={name}")[0]:
        assert time.monotonic() < deadline, f"no pod for Deployment {NS}/{name}"
        time.sleep(0.05)


def test_restart_rolls_the_deployment_of_pods_created_before_the_annotation(world, env, wi) -> None:
    make_sa(world, "app-web")
    _seed_deployment(world, "web", "app-web")
    run = wi("bind", "app-web", scenarios.IDENTITY_NAME, "-n", NS, "--restart", "-o", "json")
    doc = run.json
    assert run.code == 0
    assert {"object": "Deployment", "name": f"{NS}/web", "action": "restart",
            "status": "applied",
            "detail": "created before the service account was annotated"} in doc["data"]["steps"]
    dep = world["seeded"].cluster.store.get("deployments", NS, "web")
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]


def test_without_restart_pods_are_listed_as_needing_one(world, env, wi) -> None:
    make_sa(world, "app-old")
    _seed_deployment(world, "old", "app-old", labelled=False)
    run = wi("bind", "app-old", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 0
    pods = [s for s in doc["data"]["steps"] if s["object"] == "Pod"]
    assert pods and pods[0]["action"] == "note" and "needs restart" in pods[0]["detail"]
    assert "label" in pods[0]["detail"]


def test_role_and_scope_create_the_assignment_once(world, env, wi) -> None:
    lab, seeded = world["lab"], world["seeded"]
    scope = f"/subscriptions/{seeded.subscription_id}/resourceGroups/{seeded.resource_group}"
    make_sa(world, "app-role")
    args = ["bind", "app-role", scenarios.IDENTITY_NAME, "-n", NS,
            "--role", "Storage Blob Data Reader", "--scope", scope]
    run = wi(*args, "-o", "json")
    doc = run.json
    assert run.code == 0
    assert {"object": "RoleAssignment", "name": f"Storage Blob Data Reader @ {scope}",
            "action": "create", "status": "applied", "detail": ""} in doc["data"]["steps"]
    assigned = [ra for ra in lab.azure.assignments_for(seeded.identity.principal_id)
                if ra.role_guid == "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"]
    assert len(assigned) == 1 and assigned[0].principal_type == "ServicePrincipal"
    run = wi(*args, "-o", "json")
    doc = run.json
    assert [(s["action"], s["status"]) for s in doc["data"]["steps"]
            if s["object"] == "RoleAssignment"] == [("keep", "unchanged")]


def test_dry_run_changes_nothing(world, env, wi) -> None:
    make_sa(world, "app-dry")
    before = len(fics(world))
    run = wi("bind", "app-dry", scenarios.IDENTITY_NAME, "-n", NS, "--dry-run", "-o", "json")
    doc = run.json
    assert run.code == 0 and doc["data"]["dry_run"] is True
    assert {(s["action"], s["status"]) for s in doc["data"]["steps"]} == \
        {("create", "not-run"), ("update", "not-run")}
    assert len(fics(world)) == before
    annotations = sa(world, "app-dry")["metadata"].get("annotations") or {}
    assert "azure.workload.identity/client-id" not in annotations


def test_a_failed_write_says_what_was_applied_and_a_rerun_completes(world, env, wi) -> None:
    """The plan passes (the user may patch service accounts), then a policy webhook refuses the
    patch: the credential was written, the envelope keeps every step, a re-run finishes."""
    from wi_cli.lab.kube.store import AdmissionDenied

    cluster = world["seeded"].cluster
    refusing = {"on": True}

    def policy(req):  # noqa: ANN001, ANN202 - a lab admission hook
        if refusing["on"] and req.plural == "serviceaccounts" and req.name == "app-part" \
                and req.operation == "UPDATE":
            raise AdmissionDenied('admission webhook "policy.example.com" denied the request: '
                                  "annotations are frozen", 403)
        return None

    cluster.add_admission_hook(policy)
    make_sa(world, "app-part")
    run = wi("bind", "app-part", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 4 and doc["status"] == "error"
    statuses = {s["object"]: s["status"] for s in doc["data"]["steps"]}
    assert statuses == {"FederatedIdentityCredential": "applied", "ServiceAccount": "failed"}
    message = doc["errors"][0]["message"]
    assert "Applied before it: FederatedIdentityCredential demo-app-part" in message
    assert any("Run the same 'wi bind' command again" in r for r in doc["errors"][0]["remediation"])
    refusing_also = wi("bind", "app-part", scenarios.IDENTITY_NAME, "-n", NS)  # a person's view
    assert refusing_also.code == 4 and "Steps:" in refusing_also.err
    assert "unchanged FederatedIdentityCredential demo-app-part" in refusing_also.err
    assert "failed    ServiceAccount demo/app-part: " in refusing_also.err
    refusing["on"] = False
    run = wi("bind", "app-part", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 0
    statuses = {s["object"]: s["status"] for s in doc["data"]["steps"]}
    assert statuses == {"FederatedIdentityCredential": "unchanged", "ServiceAccount": "applied"}


def test_a_write_the_kubeconfig_user_may_not_do_is_refused_before_anything_changes(
        world, env, wi) -> None:
    cluster = world["seeded"].cluster
    cluster.add_token("no-sa-patch", "limited",
                      allow=lambda verb, resource, ns: not (verb == "patch"
                                                            and resource == "serviceaccounts"))
    limited = cluster.write_kubeconfig(world["folder"] / "limited", token="no-sa-patch")
    make_sa(world, "app-limited")
    before = [(f.name, f.subject) for f in fics(world)]
    run = wi("bind", "app-limited", scenarios.IDENTITY_NAME, "-n", NS,
             "--kubeconfig", str(limited))
    assert run.code == 4
    assert "may not patch serviceaccounts in namespace demo" in run.err
    assert "nothing was changed" in run.err
    assert [(f.name, f.subject) for f in fics(world)] == before


def test_unbind_removes_the_credential_and_the_annotations(world, env, wi) -> None:
    make_sa(world, "app-un")
    assert wi("bind", "app-un", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    run = wi("unbind", "app-un", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 0
    assert [(s["action"], s["status"]) for s in doc["data"]["steps"]] == \
        [("delete", "applied"), ("update", "applied")]
    assert not [f for f in fics(world) if f.subject.endswith(":app-un")]
    annotations = sa(world, "app-un")["metadata"].get("annotations") or {}
    assert "azure.workload.identity/client-id" not in annotations
    assert sa(world, "app-un") is not None


def test_no_secret_or_token_in_any_output(world, env, wi) -> None:
    make_sa(world, "app-leak")
    run = wi("bind", "app-leak", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json", "--debug")
    assert world["seeded"].operator.secret not in run.out + run.err  # and no JWT: the fixture


def test_unknown_identity_in_a_named_resource_group_says_what_was_searched(world, env, wi) -> None:
    make_sa(world, "app-rg")
    run = wi("bind", "app-rg", "nobody", "-n", NS,
             "--identity-resource-group", world["seeded"].resource_group)
    assert run.code == 3 and "'nobody'" in run.err and world["seeded"].resource_group in run.err


def test_two_processes_unbinding_from_one_identity_at_once_both_succeed(world, env, wi) -> None:
    names = ("unpar-a", "unpar-b")
    for name in names:
        make_sa(world, name)
        assert wi("bind", name, scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    procs = [subprocess.Popen([sys.executable, "-m", "wi_cli", "unbind", name,
                               scenarios.IDENTITY_NAME, "-n", NS, "-o", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **env}) for name in names]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    subjects = {f.subject for f in fics(world)}
    assert not {f"system:serviceaccount:{NS}:{n}" for n in names} & subjects
