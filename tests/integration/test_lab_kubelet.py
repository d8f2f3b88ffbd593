"""The lab kubelet: pods whose command is python/node really run; others are scheduled only.

Driven with the real ``kubernetes`` client and ``kubectl`` against one lab cluster.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from wi_cli.lab.kube.aks import add_aks_cluster
from wi_cli.lab.kube.cluster import KubeCluster
from wi_cli.lab.kube.kubelet import seed_running_pod
from wi_cli.lab.runtime import Lab

NS = "kubelet-tests"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


@pytest.fixture(scope="module")
def cluster(lab: Lab) -> KubeCluster:
    tenant = lab.azure.add_tenant()
    sub = lab.azure.add_subscription(tenant)
    cluster = add_aks_cluster(lab, sub.subscription_id, "rg-kubelet", "kubelet-aks")
    cluster.store.create("namespaces", None, {"metadata": {"name": NS}})
    return cluster


@pytest.fixture(scope="module")
def kubeconfig(cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cluster.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture(scope="module")
def core(kubeconfig: Path) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))


def wire(api: client.CoreV1Api, model: Any) -> dict[str, Any]:
    return api.api_client.sanitize_for_serialization(model)


def wait_for(fetch: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool],
             timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = fetch()
        if done(last):
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out; last status: {last.get('status')}")


def pod_getter(core: client.CoreV1Api, name: str) -> Callable[[], dict[str, Any]]:
    return lambda: wire(core, core.read_namespaced_pod(name, NS))


def finished(pod: dict[str, Any]) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def python_pod(name: str, code: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "python:3.11-slim", "command": ["python3", "-c", code]}
    container.update(spec.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "containers": [container], **spec}}


def log_of(core: client.CoreV1Api, name: str, **kwargs: Any) -> str:
    return core.read_namespaced_pod_log(name, NS, **kwargs)


def test_python_pod_runs_to_succeeded_with_log(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(NS, python_pod("hello", "print('hello from the lab'); print('2')"))
    pod = wait_for(pod_getter(core, "hello"), finished)
    status = pod["status"]
    assert status["phase"] == "Succeeded"
    assert pod["spec"]["nodeName"]
    state = status["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 0 and state["reason"] == "Completed"
    assert status["podIP"].startswith("10.244.") and status["startTime"]
    assert {c["type"] for c in status["conditions"]} >= {"PodScheduled", "Ready", "Initialized"}
    assert log_of(core, "hello") == "hello from the lab\n2\n"
    assert log_of(core, "hello", tail_lines=1) == "2\n"


def test_failing_script_is_failed_with_exit_code(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(NS, python_pod(
        "fails", "import sys; print('boom', file=sys.stderr); sys.exit(3)"))
    pod = wait_for(pod_getter(core, "fails"), finished)
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3 and terminated["reason"] == "Error"
    assert "boom" in log_of(core, "fails")


def test_env_and_volumes_are_materialised_and_paths_rewritten(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "app-config"},
                                           "data": {"greeting": "hi", "app.py": (
                                               "import os, sys\n"
                                               "print(open(sys.argv[1]).read())\n"
                                               "print(open(os.environ['NS_FILE']).read())\n"
                                               "for k in ('POD_NAME', 'POD_NS', 'SA', 'NODE',"
                                               " 'GREETING', 'PASSWORD', 'FROM_CM_greeting',"
                                               " 'HOSTNAME', 'LITERAL'):\n"
                                               "    print(k, '=', os.environ.get(k))\n"
                                               "print('CA', os.environ['SSL_CERT_FILE'] =="
                                               " os.environ['REQUESTS_CA_BUNDLE'])\n")}})
    core.create_namespaced_secret(NS, {"metadata": {"name": "app-secret"},
                                       "data": {"password": base64.b64encode(b"s3cr3t").decode()}})
    pod = python_pod("envs", "", container={
        "command": ["python3", "/app/app.py", "/app/greeting"],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "app-config",
                                                                   "key": "greeting"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret",
                                                                "key": "password"}}},
            {"name": "NS_FILE", "value": "/var/run/secrets/kubernetes.io/serviceaccount/namespace"},
            {"name": "LITERAL", "value": "$(POD_NAME)-x"},
        ],
        "envFrom": [{"configMapRef": {"name": "app-config"}, "prefix": "FROM_CM_"}],
        "volumeMounts": [{"name": "app", "mountPath": "/app"}]},
        volumes=[{"name": "app", "configMap": {"name": "app-config"}}])
    core.create_namespaced_pod(NS, pod)
    done = wait_for(pod_getter(core, "envs"), finished)
    log = log_of(core, "envs")
    assert done["status"]["phase"] == "Succeeded", log
    lines = log.splitlines()
    assert lines[0] == "hi"
    assert lines[1] == NS  # the kube-api-access volume's downward API file
    assert "POD_NAME = envs" in lines and f"POD_NS = {NS}" in lines
    assert "SA = default" in lines and "GREETING = hi" in lines
    assert "PASSWORD = s3cr3t" in lines and "FROM_CM_greeting = hi" in lines
    assert "HOSTNAME = envs" in lines and "LITERAL = envs-x" in lines
    assert f"NODE = {done['spec']['nodeName']}" in lines
    assert "CA True" in lines


def test_active_deadline_kills_the_process(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(NS, python_pod("slow", "import time; time.sleep(60)",
                                              activeDeadlineSeconds=1))
    pod = wait_for(pod_getter(core, "slow"), finished, timeout=15)
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["reason"] == "DeadlineExceeded"


def test_deleting_a_pod_kills_its_process(core: client.CoreV1Api) -> None:
    code = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"
    core.create_namespaced_pod(NS, python_pod("sleeper", code))
    wait_for(pod_getter(core, "sleeper"), lambda p: p["status"].get("phase") == "Running")
    deadline = time.monotonic() + 10
    while not log_of(core, "sleeper").strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    pid = int(log_of(core, "sleeper").split()[0])
    core.delete_namespaced_pod("sleeper", NS)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("the pod's process outlived the pod")


def test_other_images_stay_pending_but_scheduled(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(NS, {"metadata": {"name": "nginx"}, "spec": {
        "containers": [{"name": "web", "image": "nginx:1.27"}]}})
    pod = wait_for(pod_getter(core, "nginx"),
                   lambda p: any(c["type"] == "PodScheduled"
                                 for c in p.get("status", {}).get("conditions") or []))
    time.sleep(0.3)
    pod = pod_getter(core, "nginx")()
    assert pod["spec"]["nodeName"]
    assert pod["status"]["phase"] == "Pending"
    assert "containerStatuses" not in pod["status"]
    with pytest.raises(ApiException) as err:
        log_of(core, "nginx")
    assert err.value.status == 400 and "waiting to start" in err.value.body


def test_a_node_selector_no_node_matches_leaves_the_pod_unscheduled(core: client.CoreV1Api
                                                                   ) -> None:
    """kube-scheduler's answer: no node, PodScheduled False/Unschedulable, FailedScheduling."""
    ran = python_pod("linux-only", "print('ran')", nodeSelector={"kubernetes.io/os": "linux"})
    core.create_namespaced_pod(NS, ran)
    assert wait_for(pod_getter(core, "linux-only"), finished)["status"]["phase"] == "Succeeded"
    core.create_namespaced_pod(NS, python_pod("windows-only", "print('ran')",
                                              nodeSelector={"kubernetes.io/os": "windows"}))
    pod = wait_for(pod_getter(core, "windows-only"),
                   lambda p: bool(p.get("status", {}).get("conditions")))
    assert not pod["spec"].get("nodeName") and pod["status"]["phase"] == "Pending"
    (cond,) = pod["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False",
                                                              "Unschedulable")
    assert "didn't match Pod's node affinity/selector" in cond["message"]
    events = wait_for(lambda: wire(core, core.list_namespaced_event(
        NS, field_selector="involvedObject.name=windows-only")), lambda e: bool(e["items"]))
    (event,) = events["items"]
    assert (event["type"], event["reason"]) == ("Warning", "FailedScheduling")
    assert event["source"]["component"] == "default-scheduler"


def test_seeded_pod_is_running_without_executing(cluster: KubeCluster,
                                                 core: client.CoreV1Api) -> None:
    seed_running_pod(cluster, python_pod("existing", "raise SystemExit(1)") | {
        "metadata": {"name": "existing", "namespace": NS}})
    time.sleep(0.3)
    pod = pod_getter(core, "existing")()
    assert pod["status"]["phase"] == "Running"
    assert all(cs["ready"] and "running" in cs["state"]
               for cs in pod["status"]["containerStatuses"])


def test_log_needs_a_valid_container(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(NS, python_pod("one-container", "print(1)"))
    with pytest.raises(ApiException) as err:
        log_of(core, "one-container", container="nope")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        log_of(core, "no-such-pod")
    assert err.value.status == 404


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_logs_reads_a_pod_the_kubelet_ran(core: client.CoreV1Api,
                                                  kubeconfig: Path) -> None:
    core.create_namespaced_pod(NS, python_pod("for-kubectl", "print('read me with kubectl')"))
    wait_for(pod_getter(core, "for-kubectl"), finished)
    out = subprocess.run(["kubectl", "logs", "for-kubectl", "-n", NS],
                         env={**os.environ, "KUBECONFIG": str(kubeconfig)},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "read me with kubectl\n"


def test_python_runs_with_the_lab_interpreter(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(NS, python_pod("which-python", "import sys; print(sys.executable)"))
    wait_for(pod_getter(core, "which-python"), finished)
    assert log_of(core, "which-python").strip() == sys.executable


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_node_pod_runs_with_the_lab_ca_in_its_trust_store(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(NS, {"metadata": {"name": "node-app"}, "spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "app", "image": "node:22", "command": [
            "node", "-e", "console.log(process.env.HOSTNAME, "
                          "require('fs').existsSync(process.env.NODE_EXTRA_CA_CERTS))"]}]}})
    pod = wait_for(pod_getter(core, "node-app"), finished)
    assert pod["status"]["phase"] == "Succeeded"
    assert log_of(core, "node-app") == "node-app true\n"


def test_image_from_an_unresolvable_registry_fails_to_pull_like_a_kubelet(
        core: client.CoreV1Api, kubeconfig: Path) -> None:
    pod = python_pod("unpullable", "print('never')",
                     container={"image": "registry.invalid/team/app:1.0"})
    core.create_namespaced_pod(NS, pod)
    waiting = wait_for(pod_getter(core, "unpullable"), lambda p: (
        ((p.get("status") or {}).get("containerStatuses") or [{}])[0].get("state", {})
        .get("waiting", {}).get("reason") == "ImagePullBackOff"))
    assert waiting["status"]["phase"] == "Pending"
    events = core.list_namespaced_event(
        NS, field_selector="involvedObject.name=unpullable").items
    reasons = [(e.type, e.reason) for e in events]
    assert ("Warning", "Failed") in reasons and ("Normal", "BackOff") in reasons
    failed = [e.message for e in events if e.reason == "Failed"]
    assert any("no such host" in m and "registry.invalid" in m for m in failed)
    described = subprocess.run(
        ["kubectl", "--request-timeout=10s", "describe", "pod", "unpullable", "-n", NS],
        capture_output=True, text=True, env={**os.environ, "KUBECONFIG": str(kubeconfig)})
    assert "ImagePullBackOff" in described.stdout and "Failed to pull image" in described.stdout
