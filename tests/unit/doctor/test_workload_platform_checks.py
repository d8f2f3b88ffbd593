"""The workload layer's platform checks on plain values (wi_cli/doctor/checks/workload/
platform.py): the proxy sidecar, Windows nodes, the token file's permissions for non-root users,
and virtual nodes."""

from __future__ import annotations

import json

from checkrun import commands, covers, one, run
from values import NS, deployment, pod, service_account
from wi_cli.core.models import Status

PROXY = "azure.workload.identity/inject-proxy-sidecar"
WINDOWS = {"kubernetes.io/os": "windows"}
RECREATE = f"kubectl get pod worker -n {NS} -o yaml | kubectl replace --force -f -"


def patch_body(command: str) -> object:
    return json.loads(command.split(" -p ", 1)[1].strip("'"))


def proxied(**kw) -> list:
    return [deployment("web", template_annotations={PROXY: kw.pop("value", "true")}, **kw)]


# -- workload.proxy -------------------------------------------------------------------------------

@covers("workload.proxy")
def test_proxy_on_a_linux_pod_network() -> None:
    f = one(run("workload.proxy", service_accounts=[service_account()], deployments=proxied()))
    assert f.status == Status.OK and f.summary == (f"deployment {NS}/web: proxy sidecar "
                                                   "requested on a Linux pod network.")


@covers("workload.proxy", 33)
def test_proxy_annotation_false_still_injects() -> None:
    f = one(run("workload.proxy", service_accounts=[service_account()],
                deployments=proxied(value="false")))
    assert f.status == Status.FAIL
    assert "is 'false', yet the webhook injects the proxy whenever the key is present" \
        in f.summary
    assert f.remediation.text == "Remove the annotation."
    (patch,) = commands(f)
    assert patch_body(patch) == [{"op": "remove", "path": "/spec/template/metadata/annotations/"
                                  "azure.workload.identity~1inject-proxy-sidecar"}]


@covers("workload.proxy", 31)
def test_proxy_with_host_network_is_refused_by_the_webhook() -> None:
    f = one(run("workload.proxy", service_accounts=[service_account()],
                deployments=proxied(hostNetwork=True)))
    assert f.status == Status.FAIL
    assert "hostNetwork is true, so the webhook refuses the pod" in f.summary
    assert f.evidence.actual == {PROXY: "true", "hostNetwork": True, "windows": False}
    assert f.remediation.text == "Drop hostNetwork or the proxy annotation."


@covers("workload.proxy", 30)
def test_proxy_on_windows_is_linux_only() -> None:
    # a bare pod the webhook has not seen yet (unlabelled): fixed by re-creating it
    bare = pod(labelled=False, annotations={PROXY: "true"}, nodeSelector=WINDOWS,
               os={"name": "windows"})
    f = one(run("workload.proxy", service_accounts=[service_account()], pods=[bare]))
    assert f.status == Status.FAIL and "the proxy images are Linux-only" in f.summary
    assert f.remediation.text == "Do not use the proxy on Windows."
    assert commands(f) == [f"kubectl annotate pod worker -n {NS} {PROXY}-", RECREATE]


def test_proxy_skips_when_nobody_asks_for_it() -> None:
    f = one(run("workload.proxy", service_accounts=[service_account()], pods=[pod()]))
    assert f.status == Status.SKIP and "proxy sidecar" in f.summary


# -- workload.windows -----------------------------------------------------------------------------

@covers("workload.windows")
def test_windows_pod_declaring_its_os() -> None:
    d = deployment("web", nodeSelector=WINDOWS, os={"name": "windows"})
    f = one(run("workload.windows", service_accounts=[service_account()], deployments=[d]))
    assert f.status == Status.OK and "spec.os.name is windows" in f.summary


@covers("workload.windows", 30)
def test_windows_pod_template_without_spec_os() -> None:
    d = deployment("web", nodeSelector=WINDOWS)
    f = one(run("workload.windows", service_accounts=[service_account()], deployments=[d]))
    assert f.status == Status.FAIL
    assert "targets Windows nodes but does not set spec.os.name" in f.summary
    assert "chown" in f.summary
    assert (f.evidence.expected, f.evidence.actual) == ("windows", None)
    assert patch_body(commands(f)[0]) == {"spec": {"template": {"spec": {"os": {
        "name": "windows"}}}}}


def test_windows_bare_pod_is_recreated_with_spec_os() -> None:
    f = one(run("workload.windows", service_accounts=[service_account()],
                pods=[pod(nodeSelector=WINDOWS)]))
    assert f.status == Status.FAIL
    assert commands(f) == [f"kubectl get pod worker -n {NS} -o json | jq "
                           "'.spec.os={\"name\":\"windows\"}' | kubectl replace --force -f -"]


def test_windows_skips_linux_workloads() -> None:
    f = one(run("workload.windows", service_accounts=[service_account()], pods=[pod()]))
    assert f.status == Status.SKIP


# -- workload.token-file-access -------------------------------------------------------------------

NON_ROOT = {"securityContext": {"runAsUser": 1000}}


@covers("workload.token-file-access")
def test_token_file_readable_since_kubernetes_1_19() -> None:
    d = deployment("web", **NON_ROOT)
    f = one(run("workload.token-file-access", service_accounts=[service_account()],
                deployments=[d], kube_version="v1.30.4"))
    assert f.status == Status.OK and f.summary.startswith("Kubernetes v1.30.4 makes the "
                                                          "projected token readable")


@covers("workload.token-file-access", 29)
def test_non_root_without_fs_group_on_kubernetes_1_18_warns() -> None:
    d = deployment("web", **NON_ROOT)
    f = one(run("workload.token-file-access", service_accounts=[service_account()],
                deployments=[d], kube_version="v1.18.20"))
    assert f.status == Status.WARN
    assert "runs as non-root without fsGroup" in f.summary and "permission denied" in f.summary
    assert patch_body(commands(f)[0]) == {"spec": {"template": {"spec": {
        "securityContext": {"fsGroup": 65534}}}}}


def test_non_root_with_fs_group_and_root_pods_are_fine_on_1_18() -> None:
    with_group = deployment("web", securityContext={"runAsNonRoot": True, "fsGroup": 2000})
    as_root = pod()
    found = run("workload.token-file-access", service_accounts=[service_account()],
                deployments=[with_group], pods=[as_root], kube_version="v1.18.20")
    assert [f.status for f in found] == [Status.OK, Status.OK]
    assert "fsGroup 2000" in found[0].summary and "runs as root" in found[1].summary


def test_non_root_bare_pod_on_1_18_is_recreated_with_fs_group() -> None:
    container_user = pod(containers=[{"name": "app", "image": "app",
                                      "securityContext": {"runAsNonRoot": True}}])
    f = one(run("workload.token-file-access", service_accounts=[service_account()],
                pods=[container_user], kube_version="v1.18.20"))
    assert f.status == Status.WARN
    assert commands(f) == [f"kubectl get pod worker -n {NS} -o json | jq "
                           "'.spec.securityContext.fsGroup=65534' | kubectl replace --force -f -"]


def test_token_file_access_without_the_version_assumes_a_current_kubernetes() -> None:
    f = one(run("workload.token-file-access", service_accounts=[service_account()],
                pods=[pod()]))
    assert f.status == Status.OK and "(version unknown)" in f.summary


def test_token_file_access_skips_on_1_18_without_labelled_workloads() -> None:
    f = one(run("workload.token-file-access", service_accounts=[service_account()],
                pods=[pod(labelled=False)], kube_version="v1.18.20"))
    assert f.status == Status.SKIP


# -- workload.virtual-node ------------------------------------------------------------------------

@covers("workload.virtual-node")
def test_no_workload_on_virtual_nodes() -> None:
    f = one(run("workload.virtual-node", service_accounts=[service_account()], pods=[pod()]))
    assert f.status == Status.OK and "targets virtual nodes" in f.summary


@covers("workload.virtual-node", 45)
def test_deployment_on_virtual_nodes_fails() -> None:
    d = deployment("web", nodeSelector={"type": "virtual-kubelet"},
                   tolerations=[{"key": "virtual-kubelet.io/provider", "operator": "Exists"}])
    f = one(run("workload.virtual-node", service_accounts=[service_account()],
                deployments=[d]))
    assert f.status == Status.FAIL
    assert "targets virtual nodes (ACI), where workload identity is not supported" in f.summary
    assert patch_body(commands(f)[0]) == {"spec": {"template": {"spec": {
        "nodeSelector": {"type": None}}}}}


def test_bare_pod_tolerating_virtual_nodes_fails_with_the_fix_in_words() -> None:
    bare = pod(tolerations=[{"key": "virtual-kubelet.io/provider", "operator": "Exists"}])
    f = one(run("workload.virtual-node", service_accounts=[service_account()], pods=[bare]))
    assert f.status == Status.FAIL and "VM nodes" in f.remediation.text
    assert commands(f) == []


def test_unlabelled_workloads_on_virtual_nodes_are_not_this_checks_business() -> None:
    d = deployment("web", labelled=False, nodeSelector={"type": "virtual-kubelet"})
    f = one(run("workload.virtual-node", service_accounts=[service_account()],
                deployments=[d]))
    assert f.status == Status.OK
