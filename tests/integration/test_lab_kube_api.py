"""The lab API server driven by the real kubernetes Python client."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from wi_cli.lab.kube import AdmissionDenied, AdmissionRequest, KubeCluster
from wi_cli.lab.runtime import Lab


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    with Lab() as lab:
        yield KubeCluster(lab)


@pytest.fixture(scope="module")
def api_client(cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[client.ApiClient]:
    path = cluster.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
    api = config.new_client_from_config(config_file=str(path))
    yield api
    api.close()


@pytest.fixture(scope="module")
def v1(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="module")
def ns(v1: client.CoreV1Api) -> str:
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="apitest")))
    return "apitest"


def status_of(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def sa(name: str, **annotations: str) -> client.V1ServiceAccount:
    return client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name,
                                                                annotations=annotations or None))


def pod(name: str, sa_name: str = "default", labels: dict[str, str] | None = None
        ) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(service_account_name=sa_name, containers=[
            client.V1Container(name="app", image="busybox:1.36",
                               env=[client.V1EnvVar(name="A", value="1")])]))


# -- seeded cluster ---------------------------------------------------------------------------
def test_new_cluster_has_system_namespaces_default_sas_and_a_ready_node(
        v1: client.CoreV1Api) -> None:
    names = {n.metadata.name for n in v1.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    assert v1.read_namespaced_service_account("default", "kube-system").metadata.uid
    nodes = v1.list_node().items
    assert [n.metadata.name for n in nodes] == ["aks-nodepool1-00000000-vmss000000"]
    ready = [c for c in nodes[0].status.conditions if c.type == "Ready"]
    assert ready[0].status == "True"
    assert nodes[0].metadata.labels["kubernetes.io/os"] == "linux"


def test_wrong_token_is_401_status(cluster: KubeCluster, tmp_path: Path) -> None:
    path = cluster.write_kubeconfig(tmp_path / "bad", token="not-a-token")
    api = config.new_client_from_config(config_file=str(path))
    with pytest.raises(ApiException) as info:
        client.CoreV1Api(api).list_namespace()
    api.close()
    assert info.value.status == 401
    assert status_of(info.value) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                     "status": "Failure", "message": "Unauthorized",
                                     "reason": "Unauthorized", "code": 401}


def test_token_without_rights_gets_the_real_forbidden_message(cluster: KubeCluster,
                                                              tmp_path: Path) -> None:
    cluster.add_token("reader-token", "reader@contoso.com",
                      allow=lambda verb, res, ns: verb in ("get", "list"))
    path = cluster.write_kubeconfig(tmp_path / "reader", user="reader", token="reader-token")
    api = config.new_client_from_config(config_file=str(path))
    core = client.CoreV1Api(api)
    assert core.list_namespaced_service_account("default").items
    with pytest.raises(ApiException) as info:
        core.create_namespaced_service_account("default", sa("nope"))
    api.close()
    assert info.value.status == 403
    body = status_of(info.value)
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('serviceaccounts is forbidden: User "reader@contoso.com" cannot '
                               'create resource "serviceaccounts" in API group "" in the '
                               'namespace "default"')


def test_version_and_discovery(api_client: client.ApiClient) -> None:
    assert client.VersionApi(api_client).get_code().git_version == "v1.33.2"
    resources = {r.name: r for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert resources["serviceaccounts"].short_names == ["sa"]
    token = resources["serviceaccounts/token"]
    assert (token.group, token.version, token.kind) == ("authentication.k8s.io", "v1",
                                                        "TokenRequest")
    assert resources["pods/log"].verbs == ["get"]
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "admissionregistration.k8s.io", "discovery.k8s.io"} <= groups


def test_self_subject_access_review_uses_the_token_rights(cluster: KubeCluster,
                                                          tmp_path: Path) -> None:
    cluster.add_token("sa-reader", "sa-reader", allow=lambda verb, res, ns: res ==
                      "serviceaccounts" and verb == "get")
    path = cluster.write_kubeconfig(tmp_path / "ssar", user="sa-reader", token="sa-reader")
    api = config.new_client_from_config(config_file=str(path))
    authz = client.AuthorizationV1Api(api)

    def can(verb: str, resource: str, sub: str = "") -> bool:
        review = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb=verb, resource=resource, subresource=sub, namespace="default"))))
        return review.status.allowed

    assert can("get", "serviceaccounts")
    assert not can("create", "serviceaccounts", "token")
    api.close()


# -- CRUD -------------------------------------------------------------------------------------
def test_service_account_crud(v1: client.CoreV1Api, ns: str) -> None:
    created = v1.create_namespaced_service_account(ns, sa("crud", **{
        "azure.workload.identity/client-id": "11111111-1111-1111-1111-111111111111"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    got = v1.read_namespaced_service_account("crud", ns)
    assert got.metadata.annotations["azure.workload.identity/client-id"].startswith("1111")
    got.metadata.labels = {"team": "a"}
    replaced = v1.replace_namespaced_service_account("crud", ns, got)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert v1.list_namespaced_service_account(ns, label_selector="team=a").items[0] \
        .metadata.name == "crud"
    deleted = v1.delete_namespaced_service_account("crud", ns)
    assert deleted.metadata.name == "crud"
    with pytest.raises(ApiException) as info:
        v1.read_namespaced_service_account("crud", ns)
    assert info.value.status == 404


def test_missing_object_is_404_status_with_plural_kind(v1: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as info:
        v1.read_namespaced_service_account("ghost", ns)
    assert status_of(info.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'serviceaccounts "ghost" not found', "reason": "NotFound",
        "details": {"name": "ghost", "kind": "serviceaccounts"}, "code": 404}


def test_non_core_404_names_the_group(api_client: client.ApiClient, ns: str) -> None:
    with pytest.raises(ApiException) as info:
        client.AppsV1Api(api_client).read_namespaced_deployment("ghost", ns)
    body = status_of(info.value)
    assert body["message"] == 'deployments.apps "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}


def test_create_in_missing_namespace_is_404(v1: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_service_account("nowhere", sa("x"))
    body = status_of(info.value)
    assert info.value.status == 404
    assert body["message"] == 'namespaces "nowhere" not found'
    assert body["details"] == {"name": "nowhere", "kind": "namespaces"}


def test_duplicate_is_409_already_exists(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="dup"), data={"a": "b"}))
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="dup")))
    body = status_of(info.value)
    assert (info.value.status, body["reason"]) == (409, "AlreadyExists")
    assert body["message"] == 'configmaps "dup" already exists'


def test_stale_replace_is_409_conflict(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_service_account(ns, sa("stale"))
    first = v1.read_namespaced_service_account("stale", ns)
    second = v1.read_namespaced_service_account("stale", ns)
    first.metadata.labels = {"v": "1"}
    v1.replace_namespaced_service_account("stale", ns, first)
    second.metadata.labels = {"v": "2"}
    with pytest.raises(ApiException) as info:
        v1.replace_namespaced_service_account("stale", ns, second)
    assert status_of(info.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Operation cannot be fulfilled on serviceaccounts "stale": the object has '
                   "been modified; please apply your changes to the latest version and try "
                   "again",
        "reason": "Conflict", "details": {"name": "stale", "kind": "serviceaccounts"},
        "code": 409}
    assert v1.read_namespaced_service_account("stale", ns).metadata.labels == {"v": "1"}


def test_concurrent_unconditional_patches_never_conflict(cluster: KubeCluster,
                                                          v1: client.CoreV1Api,
                                                          ns: str) -> None:
    def slow_admission(req: AdmissionRequest) -> None:  # widens the read-to-write window
        if req.plural == "serviceaccounts" and req.name == "busy":
            time.sleep(0.02)

    cluster.add_admission_hook(slow_admission)
    v1.create_namespaced_service_account(ns, sa("busy"))
    errors: list[Exception] = []

    def patch_many(prefix: str) -> None:
        for i in range(15):
            try:
                v1.patch_namespaced_service_account(
                    "busy", ns, {"metadata": {"labels": {f"{prefix}{i}": "x"}}})
            except ApiException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=patch_many, args=(p,)) for p in ("a", "b", "c")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors  # the API server retries an unconditional write that lost a race
    assert len(v1.read_namespaced_service_account("busy", ns).metadata.labels) == 45


def test_invalid_name_is_422_with_causes(v1: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_service_account(ns, sa("Bad_Name"))
    body = status_of(info.value)
    assert (info.value.status, body["reason"]) == (422, "Invalid")
    assert body["message"].startswith('ServiceAccount "Bad_Name" is invalid: metadata.name: '
                                      'Invalid value: "Bad_Name": a lowercase RFC 1123 '
                                      "subdomain must consist of")
    assert body["details"]["kind"] == "ServiceAccount"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"


def test_namespace_names_are_rfc1123_labels(v1: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as info:
        v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="a.b")))
    assert "a lowercase RFC 1123 label must consist of" in status_of(info.value)["message"]


def test_generate_name(v1: client.CoreV1Api, ns: str) -> None:
    made = v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(generate_name="gen-")))
    assert made.metadata.name.startswith("gen-") and len(made.metadata.name) == 9


def test_dry_run_does_not_persist(v1: client.CoreV1Api, ns: str) -> None:
    made = v1.create_namespaced_service_account(ns, sa("dry"), dry_run="All")
    assert made.metadata.name == "dry"
    with pytest.raises(ApiException):
        v1.read_namespaced_service_account("dry", ns)


def test_pod_crud_defaults_and_service_account_admission(v1: client.CoreV1Api, ns: str) -> None:
    made = v1.create_namespaced_pod(ns, pod("web"))
    assert made.status.phase == "Pending"
    assert made.spec.restart_policy == "Always"
    assert made.spec.service_account_name == "default"
    mounts = made.spec.containers[0].volume_mounts
    assert mounts[0].mount_path == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert made.spec.volumes[0].name.startswith("kube-api-access-")
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_pod(ns, pod("orphan", sa_name="missing-sa"))
    assert info.value.status == 403
    assert status_of(info.value)["message"] == (
        f'pods "orphan" is forbidden: error looking up service account {ns}/missing-sa: '
        f'serviceaccount "missing-sa" not found')
    deleted = v1.delete_namespaced_pod("web", ns)
    assert deleted.metadata.deletion_timestamp is not None
    assert not v1.list_namespaced_pod(ns, field_selector="metadata.name=web").items


def test_configmap_delete_returns_success_status(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="gone"), data={"k": "v"}))
    result = v1.delete_namespaced_config_map("gone", ns)
    assert result["status"] == "Success"
    assert result["details"]["name"] == "gone"


def test_namespace_delete_removes_its_objects(v1: client.CoreV1Api) -> None:
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="doomed")))
    assert v1.read_namespaced_service_account("default", "doomed")  # SA controller's job
    v1.create_namespaced_pod("doomed", pod("p"))
    v1.delete_namespace("doomed")
    assert not v1.list_pod_for_all_namespaces(field_selector="metadata.namespace=doomed").items
    with pytest.raises(ApiException):
        v1.read_namespace("doomed")


# -- patches ----------------------------------------------------------------------------------
def test_patch_service_account_with_each_content_type(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_service_account(ns, sa("patched"))
    # a dict body: the client sends a strategic merge patch
    v1.patch_namespaced_service_account("patched", ns, {"metadata": {"annotations": {
        "azure.workload.identity/client-id": "cid"}}})
    # merge patch: null removes a key
    v1.patch_namespaced_service_account(
        "patched", ns, {"metadata": {"annotations": {"azure.workload.identity/client-id": None,
                                                     "azure.workload.identity/tenant-id": "t"}}},
        _content_type="application/merge-patch+json")
    # a list body: JSON patch
    out = v1.patch_namespaced_service_account("patched", ns, [
        {"op": "add", "path": "/metadata/labels", "value": {"azure.workload.identity/use": "true"}},
        {"op": "replace", "path": "/metadata/annotations/azure.workload.identity~1tenant-id",
         "value": "t2"}])
    assert out.metadata.annotations == {"azure.workload.identity/tenant-id": "t2"}
    assert out.metadata.labels == {"azure.workload.identity/use": "true"}


def test_strategic_merge_merges_containers_and_env_by_name(api_client: client.ApiClient,
                                                           ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels={"app": "smp"}),
        spec=client.V1PodSpec(containers=[
            client.V1Container(name="app", image="busybox:1.36",
                               env=[client.V1EnvVar(name="A", value="1")]),
            client.V1Container(name="side", image="busybox:1.36")]))
    apps.create_namespaced_deployment(ns, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="smp"),
        spec=client.V1DeploymentSpec(selector=client.V1LabelSelector(
            match_labels={"app": "smp"}), template=template)))
    out = apps.patch_namespaced_deployment("smp", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "app", "image": "busybox:1.37",
                        "env": [{"name": "B", "value": "2"}]}]}}}})
    containers = out.spec.template.spec.containers
    assert [c.name for c in containers] == ["app", "side"]
    assert containers[0].image == "busybox:1.37"
    assert [e.name for e in containers[0].env] == ["A", "B"]


def test_pod_spec_is_immutable_except_images(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("immutable"))
    out = v1.patch_namespaced_pod("immutable", ns, {"spec": {"containers": [
        {"name": "app", "image": "busybox:1.37"}]}})
    assert out.spec.containers[0].image == "busybox:1.37"
    with pytest.raises(ApiException) as info:
        v1.patch_namespaced_pod("immutable", ns, {"spec": {"containers": [
            {"name": "app", "env": [{"name": "C", "value": "3"}]}]}})
    assert info.value.status == 422
    assert status_of(info.value)["message"].startswith(
        'Pod "immutable" is invalid: spec: Forbidden: pod updates may not change fields other '
        "than `spec.containers[*].image`")


def test_bad_json_patch_is_rejected(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_service_account(ns, sa("jp"))
    with pytest.raises(ApiException) as info:
        v1.patch_namespaced_service_account(
            "jp", ns, [{"op": "remove", "path": "/metadata/labels/nope"}])
    assert info.value.status == 500
    assert "doc is missing path" in status_of(info.value)["message"]


# -- selectors --------------------------------------------------------------------------------
def test_label_selectors(v1: client.CoreV1Api, ns: str) -> None:
    for name, labels in (("l1", {"app": "a", "tier": "web"}), ("l2", {"app": "b"}),
                         ("l3", {"tier": "db"})):
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, labels=labels)))

    def names(selector: str) -> list[str]:
        return sorted(i.metadata.name for i in
                      v1.list_namespaced_config_map(ns, label_selector=selector).items
                      if i.metadata.name in ("l1", "l2", "l3"))

    assert names("app=a") == ["l1"]
    assert names("app==b") == ["l2"]
    assert names("app!=a") == ["l2", "l3"]
    assert names("app in (a,b)") == ["l1", "l2"]
    assert names("tier notin (web)") == ["l2", "l3"]
    assert names("app") == ["l1", "l2"]
    assert names("!app") == ["l3"]
    assert names("app,tier") == ["l1"]


def test_field_selectors(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_service_account(ns, sa("fs-sa"))
    v1.create_namespaced_pod(ns, pod("fs-a", sa_name="fs-sa"))
    v1.create_namespaced_pod(ns, pod("fs-b"))
    by_sa = v1.list_namespaced_pod(ns, field_selector="spec.serviceAccountName=fs-sa").items
    assert [p.metadata.name for p in by_sa] == ["fs-a"]
    pending = v1.list_pod_for_all_namespaces(
        field_selector=f"status.phase=Pending,metadata.namespace={ns}").items
    assert {"fs-a", "fs-b"} <= {p.metadata.name for p in pending}
    assert not v1.list_namespaced_pod(ns, field_selector="status.phase=Running").items
    with pytest.raises(ApiException) as info:
        v1.list_namespaced_pod(ns, field_selector="spec.image=x")
    assert (info.value.status, status_of(info.value)["message"]) == (
        400, "field label not supported: spec.image")


def test_paging_with_limit_and_continue(v1: client.CoreV1Api, ns: str) -> None:
    for i in range(3):
        v1.create_namespaced_secret(ns, client.V1Secret(
            metadata=client.V1ObjectMeta(name=f"page-{i}"), string_data={"k": str(i)}))
    first = v1.list_namespaced_secret(ns, limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    rest = v1.list_namespaced_secret(ns, limit=2, _continue=first.metadata._continue)
    assert {s.metadata.name for s in first.items + rest.items} >= {"page-0", "page-1",
                                                                    "page-2"}
    assert rest.items[-1].data == {"k": "Mg=="}  # stringData is stored base64 in data


# -- watch ------------------------------------------------------------------------------------
def test_watch_waits_for_a_pod_to_run(cluster: KubeCluster, v1: client.CoreV1Api,
                                      ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("watched"))

    def start_pod() -> None:
        time.sleep(0.3)
        current = cluster.store.get("pods", ns, "watched")
        current["status"]["phase"] = "Running"
        cluster.store.update("pods", ns, current, subresource="status")

    threading.Thread(target=start_pod, daemon=True).start()
    w = watch.Watch()
    seen = []
    for event in w.stream(v1.list_namespaced_pod, ns, field_selector="metadata.name=watched",
                          timeout_seconds=10):
        seen.append((event["type"], event["object"].status.phase))
        if event["object"].status.phase == "Running":
            w.stop()
    assert seen[0] == ("ADDED", "Pending")
    assert seen[-1] == ("MODIFIED", "Running")


def test_watch_from_resource_version_sees_only_later_changes(cluster: KubeCluster,
                                                             v1: client.CoreV1Api,
                                                             ns: str) -> None:
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="later")))
    v1.delete_namespaced_config_map("later", ns)
    events = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1)]
    assert events == [("ADDED", "later"), ("DELETED", "later")]


def test_status_subresource_only_changes_status(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("st"))
    body = v1.read_namespaced_pod("st", ns)
    body.status.phase = "Running"
    body.metadata.labels = {"ignored": "yes"}
    out = v1.replace_namespaced_pod_status("st", ns, body)
    assert out.status.phase == "Running"
    assert not out.metadata.labels


# -- admission hooks --------------------------------------------------------------------------
def test_admission_hook_mutates_and_denies(cluster: KubeCluster, v1: client.CoreV1Api,
                                           ns: str) -> None:
    def hook(req: AdmissionRequest) -> dict[str, Any] | None:
        if req.plural != "configmaps" or req.operation != "CREATE":
            return None
        if req.name == "deny-me":
            raise AdmissionDenied('admission webhook "test.lab" denied the request: no')
        req.obj.setdefault("metadata", {}).setdefault("labels", {})["hooked"] = "true"
        return req.obj

    cluster.add_admission_hook(hook)
    made = v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="hooked")))
    assert made.metadata.labels == {"hooked": "true"}
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="deny-me")))
    assert info.value.status == 400
    assert status_of(info.value)["message"] == ('admission webhook "test.lab" denied the '
                                                'request: no')


# -- apps and admissionregistration -----------------------------------------------------------
def test_deployment_and_webhook_configuration_round_trip(api_client: client.ApiClient,
                                                         ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c",
                                                                     image="nginx")]))))
    made = apps.create_namespaced_deployment(ns, dep)
    assert made.metadata.generation == 1 and made.spec.replicas == 1
    patched = apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    assert patched.metadata.generation == 2
    adm = client.AdmissionregistrationV1Api(api_client)
    adm.create_mutating_webhook_configuration(client.V1MutatingWebhookConfiguration(
        metadata=client.V1ObjectMeta(name="azure-wi-webhook-mutating-webhook-configuration"),
        webhooks=[client.V1MutatingWebhook(
            name="mutation.azure-workload-identity.io", admission_review_versions=["v1"],
            side_effects="None",
            client_config=client.AdmissionregistrationV1WebhookClientConfig(
                service=client.AdmissionregistrationV1ServiceReference(
                    name="azure-wi-webhook-webhook-service", namespace="kube-system",
                    path="/mutate-v1-pod")))]))
    listed = adm.list_mutating_webhook_configuration().items
    hook = listed[0].webhooks[0]
    assert (hook.failure_policy, hook.client_config.service.port) == ("Fail", 443)
