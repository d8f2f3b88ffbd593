"""The lab API server serves CustomResourceDefinitions: the real aad-pod-identity CRDs apply with
``kubectl apply -f``, their objects are created, listed, patched and deleted with kubectl and the
kubernetes client, validated and pruned against the structural schema, and a deleted CRD takes
its objects with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from wi_cli.lab.kube.aks import add_aks_cluster
from wi_cli.lab.kube.cluster import KubeCluster
from wi_cli.lab.runtime import Lab

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "aad-pod-identity" / \
    "crd.yaml"
GROUP, VERSION = "aadpodidentity.k8s.io", "v1"
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeCluster]:
    with Lab() as lab:
        tenant = lab.azure.add_tenant()
        sub = lab.azure.add_subscription(tenant)
        yield add_aks_cluster(lab, sub.subscription_id, "rg-crds", "crds-aks")


@pytest.fixture(scope="module")
def kubeconfig(cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cluster.write_kubeconfig(tmp_path_factory.mktemp("crd-home") / ".kube" / "config")


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


@pytest.fixture(scope="module")
def installed(kubectl: Callable[..., Any]) -> str:
    return kubectl("apply", "-f", str(FIXTURE)).stdout


@pytest.fixture(scope="module")
def custom(kubeconfig: Path) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(config.new_client_from_config(config_file=str(kubeconfig)))


@pytest.fixture()
def ns(cluster: KubeCluster) -> str:
    name = f"crd-{uuid.uuid4().hex[:8]}"
    cluster.store.create("namespaces", None, {"metadata": {"name": name}})
    return name


def identity(ns: str, name: str = "id1", **spec: Any) -> str:
    body = {"type": 0, "clientID": "00000000-0000-4000-8000-000000000001",
            "resourceID": "/subscriptions/s/resourceGroups/rg/providers/"
                          "Microsoft.ManagedIdentity/userAssignedIdentities/" + name, **spec}
    return json.dumps({"apiVersion": f"{GROUP}/{VERSION}", "kind": "AzureIdentity",
                       "metadata": {"name": name, "namespace": ns}, "spec": body})


def test_the_aad_pod_identity_crds_apply_and_are_established(installed, kubectl) -> None:
    assert installed.splitlines() == [
        f"customresourcedefinition.apiextensions.k8s.io/{p}.{GROUP} created"
        for p in ("azureassignedidentities", "azureidentities", "azureidentitybindings",
                  "azurepodidentityexceptions")]
    # the manifests carry an empty status: a re-apply patches it (ignored: status is a
    # subresource of a CRD), so kubectl says "configured" while the spec stays as it was
    kubectl("apply", "-f", str(FIXTURE))
    kubectl("wait", "--for", "condition=established", "--timeout=10s",
            f"crd/azureidentities.{GROUP}")
    crd = json.loads(kubectl("get", "crd", f"azureidentitybindings.{GROUP}", "-o", "json").stdout)
    assert crd["status"]["acceptedNames"]["kind"] == "AzureIdentityBinding"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["metadata"]["generation"] == 1
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]} == {
        "NamesAccepted": "True", "Established": "True"}
    resources = kubectl("api-resources", "--api-group", GROUP, "-o", "name").stdout.split()
    assert resources == [f"{p}.{GROUP}" for p in ("azureassignedidentities", "azureidentities",
                                                  "azureidentitybindings",
                                                  "azurepodidentityexceptions")]
    explained = kubectl("explain", "azureidentity.spec.resourceID").stdout
    assert "User assigned MSI resource id." in explained


def test_custom_objects_with_kubectl_create_list_patch_delete(installed, kubectl, ns) -> None:
    binding = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AzureIdentityBinding",
               "metadata": {"name": "b1", "namespace": ns},
               "spec": {"azureIdentity": "id1", "selector": "sel1"}}
    kubectl("apply", "-f", "-", stdin=identity(ns) + "\n---\n" + json.dumps(binding))
    listed = kubectl("get", "azureidentitybindings", "-n", ns).stdout.splitlines()
    assert listed[0].split() == ["NAME", "AZUREIDENTITY", "SELECTOR", "AGE"]
    assert listed[1].split()[:3] == ["b1", "id1", "sel1"]
    kubectl("apply", "-f", "-", stdin=json.dumps(binding).replace("sel1", "sel2"))  # merge patch
    kubectl("patch", "azureidentitybinding", "b1", "-n", ns, "--type", "merge",
            "-p", '{"spec":{"weight":5}}')
    got = json.loads(kubectl("get", "azureidentitybinding", "b1", "-n", ns, "-o",
                             "json").stdout)
    assert got["spec"] == {"azureIdentity": "id1", "selector": "sel2", "weight": 5}
    assert got["metadata"]["generation"] == 3
    strategic = kubectl("patch", "azureidentitybinding", "b1", "-n", ns,
                        "-p", '{"spec":{"weight":1}}', ok=False)
    assert strategic.returncode != 0
    assert "application/strategic-merge-patch+json is not supported" in strategic.stderr
    kubectl("delete", "azureidentitybinding", "b1", "-n", ns)
    assert "No resources found" in kubectl("get", "azureidentitybindings", "-n", ns).stderr


def test_schema_validation_and_pruning(installed, kubectl, ns, custom) -> None:
    wrong = kubectl("apply", "-f", "-", stdin=identity(ns, type="zero"), ok=False)
    assert ('spec.type: Invalid value: "string": spec.type in body must be of type integer: '
            '"string"') in wrong.stderr
    strict = kubectl("apply", "-f", "-", stdin=identity(ns, bogus=1), ok=False)
    assert 'strict decoding error: unknown field "spec.bogus"' in strict.stderr
    made = custom.create_namespaced_custom_object(
        GROUP, VERSION, ns, "azureidentities", json.loads(identity(ns, "pruned", bogus=1)))
    assert "bogus" not in made["spec"]  # Warn (the default): pruned with a warning
    assert made["spec"]["type"] == 0
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, ns, "azureidentities", json.loads(identity(ns, "nul", type=None)))
    assert refused.value.status == 422


def test_custom_objects_with_the_kubernetes_client(installed, ns, custom) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AzurePodIdentityException",
            "metadata": {"name": "exc", "namespace": ns, "labels": {"team": "a"}},
            "spec": {"podLabels": {"app": "legacy"}}}
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, "azurepodidentityexceptions",
                                           body)
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, ns,
                                                  "azurepodidentityexceptions",
                                                  label_selector="team=a")
    assert listed["kind"] == "AzurePodIdentityExceptionList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["exc"]
    everywhere = custom.list_cluster_custom_object(GROUP, VERSION, "azurepodidentityexceptions")
    assert any(i["metadata"]["namespace"] == ns for i in everywhere["items"])
    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, "azurepodidentityexceptions", "exc",
        {"spec": {"podLabels": {"tier": "web"}}})
    assert patched["spec"]["podLabels"] == {"app": "legacy", "tier": "web"}
    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "azurepodidentityexceptions",
                                           "exc")
    with pytest.raises(ApiException) as gone:
        custom.get_namespaced_custom_object(GROUP, VERSION, ns, "azurepodidentityexceptions",
                                            "exc")
    assert gone.value.status == 404
    assert json.loads(gone.value.body)["message"] == \
        f'azurepodidentityexceptions.{GROUP} "exc" not found'


WIDGETS = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: string, enum: [small, large]}
          status:
            type: object
            properties:
              ready: {type: boolean}
"""


def test_status_subresource_enum_required_and_deleting_the_crd(cluster, kubectl, ns) -> None:
    kubectl("apply", "-f", "-", stdin=WIDGETS)
    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w", "namespace": ns},
              "spec": {"size": "small"}, "status": {"ready": True}}
    kubectl("apply", "-f", "-", stdin=json.dumps(widget))
    stored = cluster.store.get("widgets", ns, "w")
    assert "status" not in stored  # the status subresource owns it
    assert kubectl("get", "wd", "-n", ns).stdout.split()[:4] == ["NAME", "SIZE", "AGE", "w"]
    bad = kubectl("apply", "-f", "-", stdin=json.dumps(
        {**widget, "metadata": {"name": "x", "namespace": ns}, "spec": {"size": "huge"}}),
        ok=False)
    assert 'spec.size: Unsupported value: "huge": supported values: "small", "large"' in \
        bad.stderr
    missing = kubectl("apply", "-f", "-", stdin=json.dumps(
        {**widget, "metadata": {"name": "y", "namespace": ns}, "spec": {}}), ok=False)
    assert "spec.size: Required value" in missing.stderr
    kubectl("delete", "crd", "widgets.example.com")
    assert cluster.store.list("namespaces")  # the store still answers
    assert not any(rt.plural == "widgets" for rt in cluster.store.types.custom())
    with pytest.raises(KeyError):
        cluster.store.list("widgets")


def test_a_crd_must_be_named_plural_dot_group(kubectl) -> None:
    refused = kubectl("apply", "-f", "-", ok=False,
                      stdin=WIDGETS.replace("name: widgets.example.com", "name: gadgets.x.io"))
    assert ('metadata.name: Invalid value: "gadgets.x.io": must be spec.names.plural+"."+'
            'spec.group') in refused.stderr


def test_deleting_a_namespace_deletes_its_custom_objects(installed, cluster, kubectl) -> None:
    name = f"crd-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    kubectl("apply", "-f", "-", stdin=identity(name, "doomed"))
    kubectl("apply", "-f", "-", stdin=WIDGETS.replace("widgets", "gizmos").replace(
        "Widget", "Gizmo").replace("widget", "gizmo").replace("[wd]", "[gz]"))
    kubectl("delete", "crd", "gizmos.example.com")  # a custom type that is gone
    kubectl("delete", "namespace", name)
    assert cluster.store.list("azureidentities", name)[0] == []
