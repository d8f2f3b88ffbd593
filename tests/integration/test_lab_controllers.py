"""The lab's workload controllers, driven with the real ``kubernetes`` client and ``kubectl``:
Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs create their pods through the
admission chain (the workload-identity webhook mutates them), ``kubectl rollout`` works, and
owners' deletion collects their dependents."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from kubernetes import client, config

from wi_cli.lab.kube.aks import add_aks_cluster
from wi_cli.lab.kube.cluster import KubeCluster
from wi_cli.lab.runtime import Lab

USE = "azure.workload.identity/use"
CLIENT_ID = "azure.workload.identity/client-id"
FIRST_ID, SECOND_ID = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000b2"
SLEEP = ["python3", "-c", "import time; time.sleep(600)"]

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeCluster]:
    with Lab() as lab:
        tenant = lab.azure.add_tenant()
        sub = lab.azure.add_subscription(tenant)
        yield add_aks_cluster(lab, sub.subscription_id, "rg-controllers", "controllers-aks")


@pytest.fixture(scope="module")
def kubeconfig(cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cluster.write_kubeconfig(tmp_path_factory.mktemp("kubectl-home") / ".kube" / "config")


@pytest.fixture(scope="module")
def api(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture(scope="module")
def kubectl(kubeconfig: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {"PATH": os.environ["PATH"], "HOME": str(kubeconfig.parent.parent),
           "KUBECONFIG": str(kubeconfig)}

    def run(*args: str, ok: bool = True, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["kubectl", "--request-timeout=20s", *args], env=env,
                                input=stdin, capture_output=True, text=True, timeout=90)
        if ok:
            assert result.returncode == 0, result.stderr
        return result
    return run


@pytest.fixture()
def ns(api: client.ApiClient) -> str:
    name = f"ctl-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_service_account(name, {"metadata": {
        "name": "workload", "annotations": {CLIENT_ID: FIRST_ID}}})
    return name


# -- helpers -----------------------------------------------------------------------------------
def wire(api: client.ApiClient, model: Any) -> Any:
    return api.sanitize_for_serialization(model)


def wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last = fetch()
    while not done(last):
        assert time.monotonic() < deadline, f"timed out; last seen: {last}"
        time.sleep(0.05)
        last = fetch()
    return last


def pod_template(labels: dict[str, str], command: list[str] | None = None,
                 image: str = "python:3.12-slim", **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image}
    if command:
        container["command"] = command
    return {"metadata": {"labels": labels},
            "spec": {"serviceAccountName": "workload", "containers": [container], **spec}}


def deployment(name: str, replicas: int = 1, **template: Any) -> dict[str, Any]:
    labels = {"app": name, USE: "true"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": pod_template(labels, **{"command": SLEEP, **template})}}


def pods(api: client.ApiClient, ns: str, selector: str) -> list[dict[str, Any]]:
    items = client.CoreV1Api(api).list_namespaced_pod(ns, label_selector=selector).items
    return [p for p in wire(api, items) if not p["metadata"].get("deletionTimestamp")]


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][0].get("env", [])}


def events(api: client.ApiClient, ns: str, name: str, reason: str) -> list[str]:
    """Messages of the events about ``name`` with ``reason``, oldest first."""
    items = wire(api, client.CoreV1Api(api).list_namespaced_event(
        ns, field_selector=f"involvedObject.name={name},reason={reason}").items)
    return [e["message"] for e in sorted(items, key=lambda e: int(
        e["metadata"]["resourceVersion"]))]


def controller_ref(obj: dict[str, Any]) -> dict[str, Any]:
    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")]
    assert len(refs) == 1, obj["metadata"]
    return refs[0]


# -- Deployments -------------------------------------------------------------------------------
def test_deployment_creates_a_replicaset_and_pods_the_webhook_mutates(api, ns) -> None:
    apps = client.AppsV1Api(api)
    made = wire(api, apps.create_namespaced_deployment(ns, deployment("web", replicas=2)))
    status = wait_for(lambda: wire(api, apps.read_namespaced_deployment("web", ns)),
                      lambda d: d["status"].get("availableReplicas") == 2)["status"]
    assert status["observedGeneration"] == 1 and status["updatedReplicas"] == 2
    assert {c["type"]: c["reason"] for c in status["conditions"]} == {
        "Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}
    [rs] = wire(api, apps.list_namespaced_replica_set(ns).items)
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert controller_ref(rs) == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                  "uid": made["metadata"]["uid"], "controller": True,
                                  "blockOwnerDeletion": True}
    running = pods(api, ns, "app=web")
    assert len(running) == 2
    for pod in running:
        assert pod["metadata"]["generateName"] == f"{rs['metadata']['name']}-"
        assert controller_ref(pod)["uid"] == rs["metadata"]["uid"]
        assert pod["metadata"]["labels"]["pod-template-hash"] == pod_hash
        assert pod["status"]["phase"] == "Running"
        assert env_of(pod)["AZURE_CLIENT_ID"] == FIRST_ID  # the webhook mutated it
        assert env_of(pod)["AZURE_FEDERATED_TOKEN_FILE"].endswith("azure-identity-token")
    assert events(api, ns, "web", "ScalingReplicaSet") == [
        f"Scaled up replica set {rs['metadata']['name']} from 0 to 2"]


@needs_kubectl
def test_rollout_restart_replaces_pods_with_the_new_identity(api, ns, kubectl) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("api", replicas=2))
    kubectl("rollout", "status", "deployment/api", "-n", ns, "--timeout=30s")
    before = {p["metadata"]["name"] for p in pods(api, ns, "app=api")}
    core.patch_namespaced_service_account("workload", ns, {"metadata": {"annotations": {
        CLIENT_ID: SECOND_ID}}})
    kubectl("rollout", "restart", "deployment/api", "-n", ns)
    done = kubectl("rollout", "status", "deployment/api", "-n", ns, "--timeout=30s")
    assert 'deployment "api" successfully rolled out' in done.stdout
    after = pods(api, ns, "app=api")
    assert len(after) == 2 and not before & {p["metadata"]["name"] for p in after}
    assert {env_of(p)["AZURE_CLIENT_ID"] for p in after} == {SECOND_ID}
    dep = wire(api, apps.read_namespaced_deployment("api", ns))
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    sizes = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]:
             rs["spec"]["replicas"] for rs in wire(api, apps.list_namespaced_replica_set(ns).items)}
    assert sizes == {"1": 0, "2": 2}
    history = kubectl("rollout", "history", "deployment/api", "-n", ns).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    kubectl("rollout", "undo", "deployment/api", "-n", ns)  # revision 1's template again
    kubectl("rollout", "status", "deployment/api", "-n", ns, "--timeout=30s")
    revived = {rs["spec"]["replicas"]: rs["metadata"]["annotations"]
               for rs in wire(api, apps.list_namespaced_replica_set(ns).items)}
    assert revived[2]["deployment.kubernetes.io/revision"] == "3"
    assert revived[2]["deployment.kubernetes.io/revision-history"] == "1"


@needs_kubectl
def test_scaling_up_and_down(api, ns, kubectl) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("scaled"))
    kubectl("scale", "deployment/scaled", "-n", ns, "--replicas=3")
    kubectl("rollout", "status", "deployment/scaled", "-n", ns, "--timeout=30s")
    assert len(pods(api, ns, "app=scaled")) == 3
    apps.patch_namespaced_deployment("scaled", ns, {"spec": {"replicas": 1}})
    wait_for(lambda: pods(api, ns, "app=scaled"), lambda found: len(found) == 1)
    status = wait_for(lambda: wire(api, apps.read_namespaced_deployment("scaled", ns)),
                      lambda d: d["status"].get("replicas") == 1)["status"]
    assert status["availableReplicas"] == 1 and status["observedGeneration"] == 3


@needs_kubectl
def test_pods_that_never_start_leave_the_deployment_unavailable(api, ns, kubectl) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("stuck", command=None, image="nginx:1.27"))
    status = wait_for(lambda: wire(api, apps.read_namespaced_deployment("stuck", ns)),
                      lambda d: d["status"].get("replicas") == 1)["status"]
    assert status["unavailableReplicas"] == 1
    assert "readyReplicas" not in status and "availableReplicas" not in status
    available = [c for c in status["conditions"] if c["type"] == "Available"][0]
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    [pod] = pods(api, ns, "app=stuck")
    assert pod["status"]["phase"] == "Pending"
    waited = kubectl("rollout", "status", "deployment/stuck", "-n", ns, "--timeout=2s", ok=False)
    assert waited.returncode != 0
    assert "0 of 1 updated replicas are available" in waited.stdout


def test_a_pod_the_webhook_refuses_is_a_replica_failure_until_the_template_is_fixed(
        api, ns) -> None:
    apps = client.AppsV1Api(api)
    bad = deployment("refused")
    bad["spec"]["template"]["metadata"]["annotations"] = {
        "azure.workload.identity/service-account-token-expiration": "100"}
    apps.create_namespaced_deployment(ns, bad)
    dep = wait_for(lambda: wire(api, apps.read_namespaced_deployment("refused", ns)),
                   lambda d: any(c["type"] == "ReplicaFailure"
                                 for c in d["status"].get("conditions") or []))
    failure = [c for c in dep["status"]["conditions"] if c["type"] == "ReplicaFailure"][0]
    assert failure["reason"] == "FailedCreate"
    assert 'admission webhook "mutation.azure-workload-identity.io" denied the request: ' \
           'token expiration 100 not valid' in failure["message"]
    [rs] = wire(api, apps.list_namespaced_replica_set(ns).items)
    assert events(api, ns, rs["metadata"]["name"], "FailedCreate")[0].startswith(
        "Error creating: admission webhook")
    apps.patch_namespaced_deployment("refused", ns, {"spec": {"template": {"metadata": {
        "annotations": {"azure.workload.identity/service-account-token-expiration": "3600"}}}}})
    dep = wait_for(lambda: wire(api, apps.read_namespaced_deployment("refused", ns)),
                   lambda d: d["status"].get("availableReplicas") == 1
                   and not d["status"].get("unavailableReplicas"))
    assert "ReplicaFailure" not in {c["type"] for c in dep["status"]["conditions"]}
    [pod] = pods(api, ns, "app=refused")
    volume = [v for v in pod["spec"]["volumes"] if v["name"].startswith("azure-")][0]
    assert volume["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600


def test_a_replicaset_adopts_a_matching_orphan_and_creates_only_the_rest(api, ns) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    labels = {"app": "adopt", USE: "true"}
    orphan = wire(api, core.create_namespaced_pod(ns, {
        "metadata": {"name": "adopt-by-hand", "labels": labels},
        "spec": pod_template(labels, SLEEP)["spec"]}))
    made = wire(api, apps.create_namespaced_replica_set(ns, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "adopt"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "adopt"}},
                 "template": pod_template(labels, SLEEP)}}))
    owned = wait_for(lambda: pods(api, ns, "app=adopt"), lambda found: len(found) == 2 and all(
        p["metadata"].get("ownerReferences") for p in found))
    assert {controller_ref(p)["uid"] for p in owned} == {made["metadata"]["uid"]}
    assert orphan["metadata"]["uid"] in {p["metadata"]["uid"] for p in owned}
    # the event is recorded after the pod it tells of: wait for it rather than race it
    created = wait_for(lambda: events(api, ns, "adopt", "SuccessfulCreate"), bool)
    assert len(created) == 1 and len(pods(api, ns, "app=adopt")) == 2


@needs_kubectl
def test_recreate_deletes_the_old_pods_before_creating_new_ones(api, ns, kubectl) -> None:
    apps = client.AppsV1Api(api)
    body = deployment("recreated", replicas=2)
    body["spec"]["strategy"] = {"type": "Recreate"}
    apps.create_namespaced_deployment(ns, body)
    kubectl("rollout", "status", "deployment/recreated", "-n", ns, "--timeout=30s")
    kubectl("rollout", "restart", "deployment/recreated", "-n", ns)
    kubectl("rollout", "status", "deployment/recreated", "-n", ns, "--timeout=30s")
    scaling = events(api, ns, "recreated", "ScalingReplicaSet")
    assert [m.split()[1] for m in scaling] == ["up", "down", "up"]
    assert scaling[1].endswith("from 2 to 0") and scaling[2].endswith("from 0 to 2")


# -- StatefulSets, DaemonSets ------------------------------------------------------------------
@needs_kubectl
def test_statefulset_pods_are_ordered_and_roll_from_the_highest_ordinal(api, ns, kubectl) -> None:
    apps = client.AppsV1Api(api)
    labels = {"app": "db", USE: "true"}
    made = wire(api, apps.create_namespaced_stateful_set(ns, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": pod_template(labels, SLEEP)}}))
    assert made["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                              "rollingUpdate": {"partition": 0}}
    kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=30s")
    first = {p["metadata"]["name"]: p for p in pods(api, ns, "app=db")}
    assert sorted(first) == ["db-0", "db-1"]
    status = wire(api, apps.read_namespaced_stateful_set("db", ns))["status"]
    assert status["currentRevision"] == status["updateRevision"]
    for index, name in enumerate(["db-0", "db-1"]):
        pod = first[name]
        assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == name
        assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == str(index)
        assert pod["metadata"]["labels"]["controller-revision-hash"] == status["updateRevision"]
        assert pod["spec"]["hostname"] == name and pod["spec"]["subdomain"] == "db"
        assert controller_ref(pod)["uid"] == made["metadata"]["uid"]
        assert env_of(pod)["AZURE_CLIENT_ID"] == FIRST_ID
    assert events(api, ns, "db", "SuccessfulCreate") == [
        "create Pod db-0 in StatefulSet db successful",
        "create Pod db-1 in StatefulSet db successful"]
    kubectl("rollout", "restart", "statefulset/db", "-n", ns)
    done = kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=30s")
    # kubectl's words for any StatefulSet with a partition, which the API server defaults to 0
    assert done.stdout == "partitioned roll out complete: 2 new pods have been updated...\n"
    second = {p["metadata"]["name"]: p for p in pods(api, ns, "app=db")}
    assert sorted(second) == ["db-0", "db-1"]
    assert all(second[n]["metadata"]["uid"] != first[n]["metadata"]["uid"] for n in second)
    assert events(api, ns, "db", "SuccessfulDelete") == [
        "delete Pod db-1 in StatefulSet db successful",
        "delete Pod db-0 in StatefulSet db successful"]
    new_status = wire(api, apps.read_namespaced_stateful_set("db", ns))["status"]
    assert new_status["currentRevision"] == new_status["updateRevision"] != status["updateRevision"]
    history = kubectl("rollout", "history", "statefulset/db", "-n", ns).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]


@needs_kubectl
def test_daemonset_runs_one_pod_on_the_node_and_replaces_it(api, ns, kubectl,
                                                            cluster) -> None:
    apps = client.AppsV1Api(api)
    labels = {"app": "agent", USE: "true"}
    apps.create_namespaced_daemon_set(ns, {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": pod_template(labels, SLEEP)}})
    kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=30s")
    [pod] = pods(api, ns, "app=agent")
    node = cluster.kubelet.node_name
    assert pod["spec"]["nodeName"] == node
    assert pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
    assert pod["metadata"]["generateName"] == "agent-"
    status = wire(api, apps.read_namespaced_daemon_set("agent", ns))["status"]
    assert {k: status[k] for k in ("desiredNumberScheduled", "currentNumberScheduled",
                                   "numberReady", "updatedNumberScheduled",
                                   "numberAvailable")} == dict.fromkeys(
        ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
         "updatedNumberScheduled", "numberAvailable"), 1)
    kubectl("rollout", "restart", "daemonset/agent", "-n", ns)
    done = kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=30s")
    assert 'daemon set "agent" successfully rolled out' in done.stdout
    [replaced] = pods(api, ns, "app=agent")
    assert replaced["metadata"]["name"] != pod["metadata"]["name"]
    assert replaced["metadata"]["labels"]["pod-template-generation"] == "2"
    assert replaced["metadata"]["labels"]["controller-revision-hash"] != \
        pod["metadata"]["labels"]["controller-revision-hash"]


# -- Jobs, CronJobs ----------------------------------------------------------------------------
def test_job_runs_its_completions_and_records_them(api, ns) -> None:
    batch = client.BatchV1Api(api)
    made = wire(api, batch.create_namespaced_job(ns, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"completions": 2, "template": pod_template(
            {USE: "true"}, ["python3", "-c", "print('done')"], restartPolicy="Never")}}))
    uid = made["metadata"]["uid"]
    assert made["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert made["spec"]["backoffLimit"] == 6 and made["spec"]["parallelism"] == 1
    job = wait_for(lambda: wire(api, batch.read_namespaced_job("once", ns)),
                   lambda j: j["status"].get("completionTime"))
    status = job["status"]
    assert status["succeeded"] == 2 and "failed" not in status and "active" not in status
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [
        ("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert status["startTime"] <= status["completionTime"]
    finished = pods(api, ns, f"batch.kubernetes.io/controller-uid={uid}")
    assert len(finished) == 2 and {p["status"]["phase"] for p in finished} == {"Succeeded"}
    for pod in finished:
        labels = pod["metadata"]["labels"]
        assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == "once"
        assert labels["controller-uid"] == uid
        assert env_of(pod)["AZURE_CLIENT_ID"] == FIRST_ID


def test_job_fails_past_its_backoff_limit(api, ns) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(ns, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "broken"},
        "spec": {"backoffLimit": 0, "template": pod_template(
            {}, ["python3", "-c", "raise SystemExit(3)"], restartPolicy="Never")}})
    job = wait_for(lambda: wire(api, batch.read_namespaced_job("broken", ns)),
                   lambda j: any(c["type"] == "Failed"
                                 for c in j["status"].get("conditions") or []))
    assert job["status"]["failed"] == 1 and "completionTime" not in job["status"]
    assert [(c["type"], c["reason"]) for c in job["status"]["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    assert events(api, ns, "broken", "BackoffLimitExceeded") == [
        "Job has reached the specified backoff limit"]


def test_a_job_needs_a_restart_policy_of_never_or_on_failure(api, ns) -> None:
    batch = client.BatchV1Api(api)
    with pytest.raises(client.ApiException) as refused:
        batch.create_namespaced_job(ns, {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "always"},
            "spec": {"template": pod_template({}, SLEEP)}})
    assert refused.value.status == 422
    assert json.loads(refused.value.body)["message"] == (
        'Job.batch "always" is invalid: spec.template.spec.restartPolicy: Unsupported value: '
        '"Always": supported values: "OnFailure", "Never"')


@needs_kubectl
def test_cronjob_and_statefulset_apply_and_patch_their_pod_templates(api, ns, kubectl) -> None:
    manifest = f"""\
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly, namespace: {ns}}}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {{labels: {{app: nightly}}}}
        spec:
          serviceAccountName: workload
          restartPolicy: OnFailure
          containers:
          - {{name: app, image: busybox, env: [{{name: MODE, value: nightly}}]}}
          - {{name: side, image: busybox}}
"""
    kubectl("apply", "-f", "-", stdin=manifest)
    kubectl("apply", "-f", "-", stdin=manifest.replace("value: nightly", "value: weekly"))
    batch = client.BatchV1Api(api)
    batch.patch_namespaced_cron_job("nightly", ns, {"spec": {"jobTemplate": {"spec": {
        "template": {"metadata": {"labels": {USE: "true"}}, "spec": {"containers": [
            {"name": "app", "env": [{"name": "EXTRA", "value": "1"}]}]}}}}}})
    cron = wire(api, batch.read_namespaced_cron_job("nightly", ns))
    template = cron["spec"]["jobTemplate"]["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "nightly", USE: "true"}
    containers = {c["name"]: c for c in template["spec"]["containers"]}
    assert set(containers) == {"app", "side"}  # merged by name, not replaced
    assert containers["app"]["env"] == [{"name": "MODE", "value": "weekly"},
                                        {"name": "EXTRA", "value": "1"}]
    assert cron["spec"]["concurrencyPolicy"] == "Allow"
    listed = kubectl("get", "cronjobs", "-n", ns).stdout
    assert listed.split()[:7] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE",
                                  "LAST", "SCHEDULE"]


# -- garbage collection ------------------------------------------------------------------------
@needs_kubectl
def test_deleting_a_deployment_deletes_its_replicasets_and_pods(api, ns, kubectl) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("gone"))
    wait_for(lambda: pods(api, ns, "app=gone"), lambda found: len(found) == 1)
    kubectl("delete", "deployment/gone", "-n", ns)
    wait_for(lambda: (apps.list_namespaced_replica_set(ns).items, pods(api, ns, "app=gone")),
             lambda state: state == ([], []))


@needs_kubectl
def test_foreground_deletion_removes_the_dependents_first(api, ns, kubectl) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("first"))
    wait_for(lambda: pods(api, ns, "app=first"), lambda found: len(found) == 1)
    kubectl("delete", "deployment/first", "-n", ns, "--cascade=foreground")
    assert apps.list_namespaced_replica_set(ns).items == [] and pods(api, ns, "app=first") == []


@needs_kubectl
def test_orphan_propagation_keeps_the_dependents_without_their_owner(api, ns, kubectl) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("kept"))
    [pod] = wait_for(lambda: pods(api, ns, "app=kept"), lambda found: len(found) == 1)
    kubectl("delete", "deployment/kept", "-n", ns, "--cascade=orphan")
    [rs] = wire(api, apps.list_namespaced_replica_set(ns).items)
    assert "ownerReferences" not in rs["metadata"]
    [still] = pods(api, ns, "app=kept")
    assert still["metadata"]["uid"] == pod["metadata"]["uid"]
    assert controller_ref(still)["uid"] == rs["metadata"]["uid"]
    kubectl("delete", f"replicaset/{rs['metadata']['name']}", "-n", ns)
    wait_for(lambda: pods(api, ns, "app=kept"), lambda found: found == [])


def test_deleting_a_job_orphans_its_pods_unless_told_otherwise(api, ns) -> None:
    batch = client.BatchV1Api(api)
    for name in ("kept-job", "collected-job"):
        batch.create_namespaced_job(ns, {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": pod_template({}, SLEEP, restartPolicy="Never")}})
        wait_for(lambda: pods(api, ns, f"job-name={name}"), lambda found: len(found) == 1)
    batch.delete_namespaced_job("kept-job", ns)  # batch/v1 default: Orphan, with a warning
    [orphan] = pods(api, ns, "job-name=kept-job")
    assert "ownerReferences" not in orphan["metadata"]
    batch.delete_namespaced_job("collected-job", ns, propagation_policy="Background")
    wait_for(lambda: pods(api, ns, "job-name=collected-job"), lambda found: found == [])


@needs_kubectl
def test_deleting_the_namespace_leaves_nothing_behind(api, ns, kubectl, cluster) -> None:
    client.AppsV1Api(api).create_namespaced_deployment(ns, deployment("doomed", replicas=2))
    wait_for(lambda: pods(api, ns, "app=doomed"), lambda found: len(found) == 2)
    kubectl("delete", "namespace", ns)
    assert all(not cluster.store.list(plural, ns)[0]
               for plural in ("pods", "replicasets", "deployments"))
    assert cluster.store.try_get("namespaces", None, ns) is None
