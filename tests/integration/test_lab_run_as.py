"""The lab's kubelet and a pod's runAsUser/runAsGroup (issue 14): it starts the process as that
user where the lab can (root, and the user can start the interpreter); elsewhere the process
runs as the lab's user and a Warning event ``RunAsNotApplied`` says so, so the uid a probe reads
is never passed off as the spec's."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Iterator

import pytest
from kubernetes import client, config

from wi_cli.lab.kube import run_as
from wi_cli.lab.kube.aks import add_aks_cluster
from wi_cli.lab.kube.cluster import KubeCluster
from wi_cli.lab.runtime import Lab

from test_lab_kubelet import finished, log_of, python_pod, wait_for, wire

NS = "kubelet-tests"
REPORT = "import os; print(os.getuid(), os.getgid(), sorted(os.getgroups()))"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.CoreV1Api]:
    with Lab() as lab:
        tenant = lab.azure.add_tenant()
        sub = lab.azure.add_subscription(tenant)
        cluster: KubeCluster = add_aks_cluster(lab, sub.subscription_id, "rg-runas", "runas-aks")
        cluster.store.create("namespaces", None, {"metadata": {"name": NS}})
        kubeconfig = cluster.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
        yield client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))


def _switchable(uid: int) -> bool:
    """Can this machine start the lab's interpreter as ``uid`` (root, and a path it may enter)?"""
    if os.geteuid() != 0:
        return False
    try:
        subprocess.run([sys.executable, "--version"], user=uid, group=uid, capture_output=True,
                       check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _run(core: client.CoreV1Api, name: str, **spec: Any) -> tuple[dict[str, Any], str, list[Any]]:
    core.create_namespaced_pod(NS, python_pod(name, REPORT, **spec))
    pod = wait_for(lambda: wire(core, core.read_namespaced_pod(name, NS)), finished)
    events = [e for e in core.list_namespaced_event(NS).items
              if e.involved_object.name == name and e.reason == run_as.NOT_APPLIED]
    return pod, log_of(core, name), events


def test_the_spec_picks_the_user_container_over_pod() -> None:
    pod = {"spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": 3000,
                                        "supplementalGroups": [4000], "fsGroup": 2000}}}
    assert run_as.wanted(pod, {}) == run_as.RunAs(1000, 3000, (4000, 2000))
    assert run_as.wanted(pod, {"securityContext": {"runAsUser": 65534}}).uid == 65534
    assert not run_as.wanted({"spec": {}}, {}).asked
    assert run_as.RunAs(65534, None).popen()["group"] == 0  # runAsGroup unset: group 0


def test_a_pod_without_run_as_runs_as_the_lab_without_a_warning(core) -> None:
    pod, log, events = _run(core, "plain")
    assert pod["status"]["phase"] == "Succeeded" and events == []
    assert log.split()[:2] == [str(os.getuid()), str(os.getgid())]


def test_run_as_user_is_applied_or_the_pod_is_told_why_not(core) -> None:
    pod, log, events = _run(core, "nobody", securityContext={"runAsUser": 65534,
                                                             "runAsGroup": 65534})
    assert pod["status"]["phase"] == "Succeeded", log
    if _switchable(65534):
        assert log.split()[:2] == ["65534", "65534"] and events == []
    else:
        assert log.split()[:2] == [str(os.getuid()), str(os.getgid())]
        (event,) = events
        assert event.type == "Warning"
        assert "runAsUser 65534, runAsGroup 65534" in event.message
        assert f"runs as uid {os.getuid()}" in event.message
