"""The lab API server driven by the real kubectl binary (subprocess, KUBECONFIG)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from wi_cli.lab.kube import KubeCluster
from wi_cli.lab.runtime import Lab

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")

APP_YAML = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: workload
  annotations:
    azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000001
---
apiVersion: v1
kind: Pod
metadata:
  name: app
  labels:
    azure.workload.identity/use: "true"
spec:
  serviceAccountName: workload
  containers:
  - name: app
    image: nginx:1.27
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeCluster]:
    with Lab() as lab:
        yield KubeCluster(lab)


@pytest.fixture(scope="module")
def kube_env(cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("kubectl-home")
    config = cluster.write_kubeconfig(home / ".kube" / "config")
    return {"PATH": os.environ["PATH"], "HOME": str(home), "KUBECONFIG": str(config)}


@pytest.fixture(scope="module")
def kubectl(kube_env: dict[str, str]) -> Kubectl:
    def run(*args: str, stdin: str | None = None, ok: bool = True
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["kubectl", "--request-timeout=10s", *args], env=kube_env,
                                input=stdin, capture_output=True, text=True, timeout=60)
        if ok:
            assert result.returncode == 0, result.stderr
        return result
    return run


@pytest.fixture(scope="module")
def app_ns(kubectl: Kubectl) -> str:
    kubectl("create", "namespace", "kubectl-test")
    return "kubectl-test"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "objects.yaml"
    path.write_text(text)
    return str(path)


def test_get_namespaces_and_nodes_print_the_real_columns(kubectl: Kubectl) -> None:
    out = kubectl("get", "namespaces").stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["kube-system", "Active"] for line in out[1:])
    nodes = kubectl("get", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1].split()[1] == "Ready"
    assert "Server Version: v1.33.2" in kubectl("version").stdout


def test_create_get_describe_and_delete(kubectl: Kubectl, app_ns: str, tmp_path: Path) -> None:
    created = kubectl("create", "-n", app_ns, "-f", write(tmp_path, APP_YAML)).stdout
    assert created.splitlines() == ["serviceaccount/workload created", "pod/app created"]
    pods = kubectl("get", "pods", "-n", app_ns).stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods[1].split()[:4] == ["app", "0/1", "Pending", "0"]
    sas = kubectl("get", "sa", "-n", app_ns).stdout.splitlines()
    assert sas[0].split() == ["NAME", "SECRETS", "AGE"]
    assert {line.split()[0] for line in sas[1:]} == {"default", "workload"}
    described = kubectl("describe", "pod", "app", "-n", app_ns).stdout
    assert "Service Account:  workload" in described
    assert "azure.workload.identity/use=true" in described
    assert "/var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-" in described
    sa_text = kubectl("describe", "sa", "workload", "-n", app_ns).stdout
    assert "azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000001" in sa_text
    listed = json.loads(kubectl("get", "pods", "-n", app_ns, "-o", "json").stdout)
    assert [p["metadata"]["name"] for p in listed["items"]] == ["app"]
    assert listed["items"][0]["spec"]["serviceAccountName"] == "workload"
    deleted = kubectl("delete", "pod/app", "sa/workload", "-n", app_ns).stdout
    assert 'pod "app" deleted' in deleted and 'serviceaccount "workload" deleted' in deleted
    gone = kubectl("get", "pod", "app", "-n", app_ns, ok=False)
    assert gone.stderr.strip() == 'Error from server (NotFound): pods "app" not found'


def test_apply_twice_then_change(kubectl: Kubectl, app_ns: str, tmp_path: Path) -> None:
    path = write(tmp_path, APP_YAML.replace("name: workload\n", "name: applied\n", 1)
                 .replace("serviceAccountName: workload", "serviceAccountName: applied")
                 .replace("name: app\n", "name: applied-app\n", 1))
    first = kubectl("apply", "-n", app_ns, "-f", path).stdout.splitlines()
    assert first == ["serviceaccount/applied created", "pod/applied-app created"]
    second = kubectl("apply", "-n", app_ns, "-f", path).stdout.splitlines()
    assert second == ["serviceaccount/applied unchanged", "pod/applied-app unchanged"]
    Path(path).write_text(Path(path).read_text().replace("0001", "0002"))
    third = kubectl("apply", "-n", app_ns, "-f", path).stdout.splitlines()
    assert third == ["serviceaccount/applied configured", "pod/applied-app unchanged"]
    got = json.loads(kubectl("get", "sa", "applied", "-n", app_ns, "-o", "json").stdout)
    annotations = got["metadata"]["annotations"]
    assert annotations["azure.workload.identity/client-id"].endswith("0002")
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotations


def test_annotate_and_label(kubectl: Kubectl, app_ns: str) -> None:
    kubectl("create", "serviceaccount", "tagged", "-n", app_ns)
    out = kubectl("annotate", "sa", "tagged", "-n", app_ns,
                  "azure.workload.identity/tenant-id=t1").stdout
    assert out.strip() == "serviceaccount/tagged annotated"
    assert kubectl("label", "sa", "tagged", "-n", app_ns, "team=blue").stdout.strip() == \
        "serviceaccount/tagged labeled"
    got = json.loads(kubectl("get", "sa", "-l", "team=blue", "-n", app_ns, "-o", "json").stdout)
    assert [i["metadata"]["name"] for i in got["items"]] == ["tagged"]
    assert got["items"][0]["metadata"]["annotations"] == {"azure.workload.identity/tenant-id": "t1"}
    kubectl("annotate", "sa", "tagged", "-n", app_ns, "azure.workload.identity/tenant-id-")
    got = json.loads(kubectl("get", "sa", "tagged", "-n", app_ns, "-o", "json").stdout)
    assert not got["metadata"].get("annotations")


def test_unknown_field_fails_strict_validation(kubectl: Kubectl, app_ns: str,
                                              tmp_path: Path) -> None:
    bad = APP_YAML.split("---\n")[1].replace("name: app\n", "name: strict\n").replace(
        "  serviceAccountName: workload\n", "  serviceAccountName: default\n  foo: bar\n")
    result = kubectl("create", "-n", app_ns, "-f", write(tmp_path, bad), ok=False)
    assert result.returncode == 1
    assert ('Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown '
            'field "spec.foo"') in result.stderr
    assert kubectl("get", "pod", "strict", "-n", app_ns, ok=False).returncode == 1


def test_invalid_name_and_missing_object_errors(kubectl: Kubectl, app_ns: str) -> None:
    result = kubectl("create", "sa", "Bad_Name", "-n", app_ns, ok=False)
    assert ('error: failed to create serviceaccount: ServiceAccount "Bad_Name" is invalid: '
            'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
            ) in result.stderr
    missing = kubectl("get", "sa", "ghost", "-n", app_ns, ok=False)
    assert missing.stderr.strip() == \
        'Error from server (NotFound): serviceaccounts "ghost" not found'


def test_field_selector_and_unsupported_field_label(kubectl: Kubectl, app_ns: str) -> None:
    kubectl("run", "selected", "--image=nginx", "-n", app_ns)
    out = kubectl("get", "pods", "-n", app_ns, "-o", "name",
                  "--field-selector=status.phase=Pending,metadata.name=selected").stdout.split()
    assert out == ["pod/selected"]
    running = kubectl("get", "pods", "-n", app_ns, "--field-selector=status.phase=Running")
    assert "No resources found" in running.stderr
    bad = kubectl("get", "pods", "-n", app_ns, "--field-selector=spec.image=x", ok=False)
    assert "field label not supported: spec.image" in bad.stderr


def test_describe_shows_the_pod_events(cluster: KubeCluster, kubectl: Kubectl,
                                       app_ns: str) -> None:
    kubectl("run", "eventful", "--image=nginx", "-n", app_ns)
    pod = cluster.store.get("pods", app_ns, "eventful")
    cluster.store.create("events", app_ns, {
        "metadata": {"name": "eventful.1"},
        "involvedObject": {"kind": "Pod", "name": "eventful", "namespace": app_ns,
                           "uid": pod["metadata"]["uid"], "apiVersion": "v1"},
        "reason": "FailedMount", "type": "Warning", "count": 1,
        "message": 'MountVolume.SetUp failed for volume "azure-identity-token"',
        "source": {"component": "kubelet"},
        "firstTimestamp": pod["metadata"]["creationTimestamp"],
        "lastTimestamp": pod["metadata"]["creationTimestamp"]})
    described = kubectl("describe", "pod", "eventful", "-n", app_ns).stdout
    events = described.split("Events:", 1)[1]
    assert "Warning  FailedMount" in events
    assert 'MountVolume.SetUp failed for volume "azure-identity-token"' in events
    listed = kubectl("get", "events", "-n", app_ns).stdout.splitlines()
    assert listed[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "pod/eventful" in listed[1]


def test_whoami_and_can_i(kubectl: Kubectl) -> None:
    assert "lab-admin" in kubectl("auth", "whoami").stdout
    assert kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
