"""`wi migrate` against the lab: aad-pod-identity's real CRDs, two user-assigned identities,
three bindings (and one for a service principal), five workloads of different kinds (one on the
'default' service account, a CronJob, one that needs the proxy) in two namespaces. Each test
builds its own lab (tests run in parallel)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from support import operator_env, seeded_lab, set_env

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "aad-pod-identity" / \
    "crd.yaml"
GROUP = "aadpodidentity.k8s.io/v1"
SLEEP = ["python3", "-c", "import time; time.sleep(3600)"]
USE = "azure.workload.identity/use"
WORKLOADS = {("deployments", "demo", "web"), ("statefulsets", "demo", "db"),
             ("cronjobs", "demo", "nightly"), ("daemonsets", "team-b", "agent"),
             ("deployments", "team-b", "legacy")}
ACCOUNTS = [("demo", "web"), ("demo", "db"), ("demo", "batch"), ("team-b", "agent"),
            ("team-b", "legacy")]


def _template(selector: str, sa: str | None, app: str, **spec: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "app", "image": "python:3.12-slim",
                                           "command": SLEEP}], **spec}
    if sa:
        pod["serviceAccountName"] = sa
    return {"metadata": {"labels": {"app": app, "aadpodidbinding": selector}}, "spec": pod}


def install_pod_identity(lab: Any, seeded: Any) -> dict[str, Any]:
    """The CRDs and objects aad-pod-identity users have, and their workloads."""
    store, az = seeded.cluster.store, lab.azure
    for doc in yaml.safe_load_all(FIXTURE.read_text()):
        store.create("customresourcedefinitions", None, doc)
    rg = f"/subscriptions/{seeded.subscription_id}/resourceGroups/{seeded.resource_group}"
    two = az.add_identity(seeded.subscription_id, seeded.resource_group, "app-identity-2",
                          "westeurope")
    az.add_role_assignment(rg, "Reader", two.principal_id)
    store.create("namespaces", None, {"metadata": {"name": "team-b"}})

    def identity(ns: str, name: str, spec: dict[str, Any]) -> None:
        store.create("azureidentities", ns, {"apiVersion": GROUP, "kind": "AzureIdentity",
                                             "metadata": {"name": name}, "spec": spec})

    def binding(ns: str, name: str, ident: str, selector: str) -> None:
        store.create("azureidentitybindings", ns, {
            "apiVersion": GROUP, "kind": "AzureIdentityBinding", "metadata": {"name": name},
            "spec": {"azureIdentity": ident, "selector": selector}})

    one = seeded.identity
    identity("demo", "id-one", {"type": 0, "resourceID": one.id, "clientID": one.client_id})
    identity("team-b", "id-two", {"type": 0, "resourceID": two.id, "clientID": two.client_id})
    identity("demo", "sp-id", {"type": 1, "clientID": "00000000-0000-4000-8000-00000000005b",
                               "tenantID": seeded.tenant_id})
    binding("demo", "web-binding", "id-one", "web")
    binding("demo", "batch-binding", "id-one", "batch")
    binding("team-b", "two-binding", "id-two", "two")
    binding("demo", "sp-binding", "sp-id", "sp")
    store.create("secrets", "demo", {"metadata": {"name": "regcred"},
                                     "type": "kubernetes.io/dockerconfigjson",
                                     "data": {".dockerconfigjson": "e30="}})
    store.patch("serviceaccounts", "demo", "default", {"imagePullSecrets": [{"name": "regcred"}]},
                "application/merge-patch+json")
    store.create("rolebindings", "demo", {
        "metadata": {"name": "default-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "demo"}]})
    for ns, sa in (("demo", "db"), ("demo", "batch"), ("team-b", "agent"), ("team-b", "legacy")):
        store.create("serviceaccounts", ns, {"metadata": {"name": sa}})

    def labels(app: str) -> dict[str, Any]:
        return {"matchLabels": {"app": app}}

    store.create("deployments", "demo", {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": labels("web"), "template": _template("web", None, "web")}})
    store.create("statefulsets", "demo", {"metadata": {"name": "db"}, "spec": {
        "replicas": 1, "serviceName": "db", "selector": labels("db"),
        "template": _template("web", "db", "db")}})
    store.create("cronjobs", "demo", {"metadata": {"name": "nightly"}, "spec": {
        "schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": _template(
            "batch", "batch", "nightly", restartPolicy="OnFailure")}}}})
    store.create("daemonsets", "team-b", {"metadata": {"name": "agent"}, "spec": {
        "selector": labels("agent"), "template": _template("two", "agent", "agent")}})
    store.create("deployments", "team-b", {
        "metadata": {"name": "legacy", "annotations": {"wi.azure.io/legacy-imds": "true"}},
        "spec": {"replicas": 1, "selector": labels("legacy"),
                 "template": _template("two", "legacy", "legacy")}})
    store.create("deployments", "demo", {"metadata": {"name": "sp-app"}, "spec": {
        "replicas": 1, "selector": labels("sp-app"),
        "template": _template("sp", "sp-app-sa", "sp-app")}})
    return {"two": two}


@pytest.fixture()
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with seeded_lab("healthy", tmp_path) as world:
        set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))
        world.update(install_pod_identity(world["lab"], world["seeded"]))
        yield world


def _content(obj: dict[str, Any]) -> str:
    """What a user wrote (not what controllers keep current: status, revision annotations)."""
    meta = obj["metadata"]
    mine = {k: v for k, v in (meta.get("annotations") or {}).items()
            if not k.startswith(("deployment.kubernetes.io/", "deprecated.daemonset"))}
    body = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
    return json.dumps([meta.get("labels"), mine, body], sort_keys=True)


def snapshot(world: dict[str, Any]) -> tuple[Any, Any]:
    """Every object of the cluster that migrate may write, and every federated credential."""
    store, lab = world["store"], world["lab"]
    objects = sorted((plural, o["metadata"].get("namespace"), o["metadata"]["name"],
                      _content(o))
                     for plural in ("deployments", "statefulsets", "daemonsets", "cronjobs",
                                    "serviceaccounts", "configmaps", "azureidentitybindings",
                                    "azureidentities")
                     for o in store.list(plural)[0])
    fics = sorted((i.name, f.name) for i in lab.azure.identities.values()
                  for f in i.fics.values())
    return objects, fics


def template_of(world: dict[str, Any], plural: str, ns: str, name: str) -> dict[str, Any]:
    obj = world["store"].get(plural, ns, name)
    if plural == "cronjobs":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["name"]: w for w in doc["data"]["workloads"]}


def test_plan_and_write_manifests_change_nothing(world, wi, tmp_path) -> None:
    before = snapshot(world)
    run = wi("migrate", "-A", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    plans = by_name(doc)
    assert set(plans) == {"web", "db", "nightly", "agent", "legacy", "sp-app"}
    web = plans["web"]
    assert web["identity"]["client_id"] == world["seeded"].identity.client_id
    assert web["service_account"] == {"name": "web", "new": True, "from": "default",
                                      "image_pull_secrets": ["regcred"],
                                      "old_role_bindings": [
                                          "RoleBinding demo/default-view (ClusterRole view)"]}
    assert web["template_changes"] == [f'label {USE}: "true"', "serviceAccountName: web"]
    assert plans["db"]["service_account"]["name"] == "db"
    assert plans["legacy"]["proxy"] == {
        "inject": True, "why": 'annotated wi.azure.io/legacy-imds: "true"'}
    assert plans["agent"]["identity"]["azure_identity"] == "team-b/id-two"
    assert plans["sp-app"]["state"] == "manual"
    manual = {m["what"]: m["why"] for m in doc["data"]["manual"]}
    assert "service principal" in manual["AzureIdentity demo/sp-id"]
    assert "service principal" in manual["Deployment demo/sp-app"]
    assert {s["status"] for s in doc["data"]["steps"]} <= {"not-run", "unchanged"}
    assert doc["data"]["next"] == ["wi migrate --apply -A"]

    folder = tmp_path / "manifests"
    run = wi("migrate", "-A", "--write-manifests", str(folder), "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    assert snapshot(world) == before  # neither the cluster nor Azure changed
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert "demo/deployment-web.yaml" in files and "demo/serviceaccount-web.yaml" in files
    assert "team-b/daemonset-agent.yaml" in files and "demo/cronjob-nightly.yaml" in files
    assert "federated-credentials.sh" in files
    dep = yaml.safe_load((folder / "demo/deployment-web.yaml").read_text())
    template = dep["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "web", "aadpodidbinding": "web",
                                              USE: "true"}
    assert template["spec"]["serviceAccountName"] == "web"
    assert "status" not in dep and "resourceVersion" not in dep["metadata"]
    sa = yaml.safe_load((folder / "demo/serviceaccount-web.yaml").read_text())
    assert sa["imagePullSecrets"] == [{"name": "regcred"}]
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == \
        world["seeded"].identity.client_id
    legacy = yaml.safe_load((folder / "team-b/deployment-legacy.yaml").read_text())
    assert legacy["spec"]["template"]["metadata"]["annotations"] == {
        "azure.workload.identity/inject-proxy-sidecar": "true"}
    script = (folder / "federated-credentials.sh").read_text()
    assert script.count("az identity federated-credential create") == 5
    assert "--subject system:serviceaccount:demo:web" in script


def test_apply_then_doctor_and_probe_are_clean_then_remove_and_roll_back(world, wi) -> None:
    store = world["store"]
    run = wi("migrate", "-A", "--apply", "-y", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    statuses = {(s["object"], s["name"]): s["status"] for s in doc["data"]["steps"]}
    assert statuses[("TokenExchange", "demo/web")] == "applied"
    assert set(statuses.values()) == {"applied"}
    for plural, ns, name in WORKLOADS:
        template = template_of(world, plural, ns, name)
        assert template["metadata"]["labels"][USE] == "true"
        assert template["metadata"]["labels"]["aadpodidbinding"]  # kept until --remove
    assert store.get("serviceaccounts", "demo", "web")["imagePullSecrets"] == [
        {"name": "regcred"}]
    legacy_pods = store.list("pods", "team-b", "app=legacy")[0]
    assert [c["name"] for c in legacy_pods[0]["spec"]["initContainers"]] == [
        "azwi-proxy", "azwi-proxy-init"]
    assert legacy_pods[0]["status"]["phase"] == "Running"
    for ns in ("demo", "team-b"):
        run = wi("doctor", "-n", ns, "-o", "json")
        report = run.json
        assert run.code == 0, [f for f in report["findings"] if f["status"] == "fail"]
    for ns, sa in ACCOUNTS:
        run = wi("probe", "-n", ns, "--service-account", sa, "-o", "json")
        report = run.json
        assert run.code == 0, (sa, report["errors"], report["data"])

    run = wi("migrate", "-A", "--apply", "-y", "--remove-pod-identity", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    fates = {b["name"]: (b["action"], b["status"]) for b in doc["data"]["bindings"]}
    assert fates == {"demo/web-binding": ("delete", "applied"),
                     "demo/batch-binding": ("delete", "applied"),
                     "team-b/two-binding": ("delete", "applied")}
    assert [b["metadata"]["name"] for b in store.list("azureidentitybindings")[0]] == [
        "sp-binding"]  # its workload is manual: it stays
    for plural, ns, name in WORKLOADS:
        assert "aadpodidbinding" not in template_of(world, plural, ns, name)["metadata"]["labels"]
    for ns in ("demo", "team-b"):
        run = wi("doctor", "-n", ns, "-o", "json")
        report = run.json
        assert run.code == 0, [f for f in report["findings"] if f["status"] == "fail"]
    run = wi("migrate", "-A", "-o", "json")  # a re-run finds them migrated
    doc = run.json
    assert {w["name"]: w["state"] for w in doc["data"]["workloads"]}["web"] == "done"

    run = wi("migrate", "-A", "--rollback", "-y", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    assert sorted(b["metadata"]["name"] for b in store.list("azureidentitybindings")[0]) == [
        "batch-binding", "sp-binding", "two-binding", "web-binding"]
    web = template_of(world, "deployments", "demo", "web")
    assert web["metadata"]["labels"] == {"app": "web", "aadpodidbinding": "web"}
    assert "serviceAccountName" not in web["spec"]
    assert "wi unbind web " + world["seeded"].identity.id + " -n demo" in doc["data"]["next"]


def test_a_refused_exchange_leaves_pod_identity_untouched_and_a_rerun_finishes(world,
                                                                              wi) -> None:
    lab, store = world["lab"], world["store"]
    before = copy.deepcopy(template_of(world, "deployments", "demo", "web"))
    lab.azure.refuse_next(world["seeded"].identity, 1000)  # Entra does not see the credentials
    run = wi("migrate", "-n", "demo", "--apply", "-y", "--wait", "0", "-o", "json")
    doc = run.json
    assert run.code == 4
    error = doc["errors"][0]
    assert "stopped at TokenExchange" in error["message"]
    assert "Pod identity is still in place" in error["message"]
    assert any("wi migrate --apply -n demo" in r for r in error["remediation"])
    steps = {(s["object"], s["name"]): s for s in doc["data"]["steps"]}
    assert steps[("FederatedIdentityCredential", "demo-web")]["status"] == "applied"
    assert steps[("TokenExchange", "demo/web")]["status"] == "failed"
    assert steps[("Deployment", "demo/web")]["status"] == "not-run"
    assert template_of(world, "deployments", "demo", "web") == before
    assert len(store.list("azureidentitybindings", "demo")[0]) == 3

    lab.azure.refuse_next(world["seeded"].identity, 0)
    run = wi("migrate", "-n", "demo", "--apply", "-y", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    steps = {(s["object"], s["name"]): s for s in doc["data"]["steps"]}
    assert steps[("FederatedIdentityCredential", "demo-web")]["status"] == "unchanged"
    assert steps[("Deployment", "demo/web")]["status"] == "applied"
    assert template_of(world, "deployments", "demo", "web")["metadata"]["labels"][USE] == "true"


def test_a_fresh_credential_refused_a_few_times_is_waited_for(world, wi) -> None:
    world["lab"].azure.refuse_next(world["seeded"].identity, 2)
    run = wi("migrate", "-n", "demo", "--apply", "-y", "--wait", "30", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]


def test_more_than_one_workload_needs_a_confirmation(world, wi) -> None:
    before = snapshot(world)
    run = wi("migrate", "-A", "--apply", "-o", "json")
    doc = run.json
    assert run.code == 2
    assert "it migrates 5 workloads" in doc["errors"][0]["message"]
    assert snapshot(world) == before


def test_the_aks_add_on_gets_the_az_command_instead(world, wi) -> None:
    record = world["seeded"].cluster.aks.record
    record.pod_identity_profile = {"enabled": True, "userAssignedIdentities": [{
        "name": "id-two", "namespace": "team-b", "bindingSelector": "two",
        "identity": {"resourceId": world["two"].id, "clientId": world["two"].client_id,
                     "objectId": world["two"].principal_id}}]}
    run = wi("migrate", "-n", "team-b", "--apply", "-y",
             "--remove-pod-identity", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    [fate] = doc["data"]["bindings"]
    assert fate["action"] == "note"
    assert ("az aks pod-identity delete --cluster-name wi-lab-aks --resource-group wi-lab-rg "
            "--namespace team-b --name id-two") in fate["detail"]
    assert world["store"].try_get("azureidentitybindings", "team-b", "two-binding") is not None
    assert doc["data"]["pod_identity"]["aks"]["pod_identity_addon"] is True


def test_a_service_account_shared_across_identities_is_manual(world, wi) -> None:
    store = world["store"]
    store.create("deployments", "demo", {"metadata": {"name": "other"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "other"}},
        "template": _template("two", "db", "other")}})  # id-two, on db's service account
    run = wi("migrate", "-n", "demo", "-o", "json")
    doc = run.json
    assert run.code == 0
    plans = by_name(doc)
    for name in ("db", "other"):
        assert plans[name]["state"] == "manual"
        assert "shared by workloads bound to different identities" in plans[name]["manual"]


def test_without_the_crds_it_says_so_and_exits_0(tmp_path, monkeypatch, wi) -> None:
    with seeded_lab("healthy", tmp_path) as world:
        set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))
        run = wi("migrate", "-A")
        assert run.code == 0
        assert run.out.strip() == ("aad-pod-identity is not installed in this cluster (it "
                                   "serves no aadpodidentity.k8s.io resources): there is "
                                   "nothing to migrate.")
        run = wi("migrate", "-A", "--apply", "-y", "-o", "json")
        doc = run.json
        assert run.code == 0 and doc["data"]["installed"] is False


def test_human_plan_names_workloads_and_next_step(world, wi) -> None:
    world["store"].create("azurepodidentityexceptions", "demo", {
        "apiVersion": GROUP, "kind": "AzurePodIdentityException",
        "metadata": {"name": "node-agents"}, "spec": {"podLabels": {"app": "node-agent"}}})
    run = wi("migrate", "-n", "demo", columns=250)
    assert run.code == 0
    assert "Deployment demo/web" in run.out and "web (new)" in run.out
    assert "Next: wi migrate --apply -n demo" in run.out
    assert "By hand: AzureIdentity demo/sp-id" in run.err
    assert "RoleBinding demo/default-view" in run.err
    assert "AzurePodIdentityException demo/node-agents: pods labelled app=node-agent" in run.err


def test_kinds_wi_cannot_roll_are_manual_and_prepared_for(world, wi, tmp_path) -> None:
    store = world["store"]
    pod = _template("web", None, "solo")
    store.create("pods", "demo", {"metadata": {"name": "solo", **pod["metadata"]},
                                  "spec": pod["spec"]})
    store.create("jobs", "demo", {"metadata": {"name": "once"}, "spec": {
        "template": _template("batch", None, "once", restartPolicy="Never")}})
    store.create("replicasets", "demo", {"metadata": {"name": "bare-rs"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "bare-rs"}},
        "template": _template("web", "db", "bare-rs")}})
    pinned = _template("batch", "batch", "pinned")
    store.create("deployments", "demo", {"metadata": {"name": "pinned"}, "spec": {
        "replicas": 1, "template": pinned,
        "selector": {"matchLabels": {"app": "pinned", "aadpodidbinding": "batch"}}}})
    folder = tmp_path / "out"
    run = wi("migrate", "-n", "demo", "--write-manifests", str(folder),
             "--proxy-for", "web", "--remove-pod-identity", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    plans = by_name(doc)
    assert "a pod's service account cannot change" in plans["solo"]["manual"]
    assert "a Job's pod template cannot change" in plans["once"]["manual"]
    assert plans["bare-rs"]["kind"] == "ReplicaSet" and plans["bare-rs"]["state"] == "manual"
    assert plans["web"]["proxy"]["why"] == "named with --proxy-for"
    assert plans["pinned"]["removal"][0].startswith("not the label aadpodidbinding")
    solo = yaml.safe_load((folder / "demo/pod-solo.yaml").read_text())
    assert solo["spec"]["serviceAccountName"] == "solo" and "nodeName" not in solo["spec"]
    once = yaml.safe_load((folder / "demo/job-once.yaml").read_text())
    assert "selector" not in once["spec"]
    fates = {b["name"]: b for b in doc["data"]["bindings"]}
    assert fates["demo/batch-binding"]["action"] == "keep"  # pinned keeps its label

    run = wi("migrate", "-n", "demo", "--apply", "-y", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    made = store.get("serviceaccounts", "demo", "once")  # ready for the Job's next run
    assert made["metadata"]["annotations"]["azure.workload.identity/client-id"] == \
        world["seeded"].identity.client_id
    assert "aadpodidbinding" in store.get("jobs", "demo", "once")["spec"]["template"][
        "metadata"]["labels"]
    run = wi("migrate", "-n", "demo", "--apply", "-y", "-o", "json")
    again = run.json
    assert run.code == 0, again["errors"]
    writes = [s for s in again["data"]["steps"] if s["action"] in ("create", "update")]
    assert writes == []  # a second run finds everything done and writes nothing
    assert {s["status"] for s in again["data"]["steps"]} == {"applied", "unchanged"}


def test_a_missing_kubernetes_permission_refuses_before_any_write(world, wi,
                                                                 tmp_path) -> None:
    cluster = world["seeded"].cluster
    cluster.add_token("no-patch-token", "operator",
                      allow=lambda verb, resource, ns: not (verb == "patch"
                                                            and resource == "deployments"))
    path = cluster.write_kubeconfig(tmp_path / "limited", user="operator", token="no-patch-token")
    before = snapshot(world)
    run = wi("migrate", "-n", "demo", "--apply", "-y", "--kubeconfig",
             str(path), "-o", "json")
    doc = run.json
    assert run.code == 4
    assert "may not patch deployments in namespace demo" in doc["errors"][0]["message"]
    assert snapshot(world) == before
