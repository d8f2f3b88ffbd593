"""`wi migrate`'s rules on plain data: reading aad-pod-identity's objects and workloads,
rollout states, what each workload's plan becomes (with in-memory ports: a cluster, Azure
identities, Entra), what becomes of a binding, the live exchange's bounded polling on a fake
clock, and the manifests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from wi_cli.core.errors import KubernetesError, RemoteError
from wi_cli.core.migrate_apply import Clock, Runner, exchange, selector_text
from wi_cli.core.migrate_detect import Inventory, detect
from wi_cli.core.migrate_manifests import merge_patch, workload_manifest
from wi_cli.core.migrate_plan import MANUAL, MIGRATE, Options, plan_workloads
from wi_cli.core.migrate_steps import binding_step
from wi_cli.core.models import (
    AksPodIdentity,
    Cluster,
    FederatedCredential,
    Identity,
    LabelSelector,
    Pod,
    ResourceId,
    ServiceAccount,
    ServiceAccountRef,
    TokenExchange,
    azure_identity,
    from_json,
    identity_binding,
    nest,
    role_binding,
    rollout_state,
    selector_matches,
    workload,
)
from wi_cli.core.trust import Ports, Target

SUB, TENANT = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000aa"


def rid(name: str) -> str:
    return (f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}")


IDENTITIES = {name: Identity(ResourceId.parse(rid(name)), client, f"p-{name}", TENANT)
              for name, client in (("one", "00000000-0000-4000-8000-0000000000c1"),
                                   ("two", "00000000-0000-4000-8000-0000000000c2"))}


# -- in-memory ports ------------------------------------------------------------------------------

@dataclass
class FakeAzure:
    credentials_of: dict[str, list[FederatedCredential]] = field(default_factory=dict)

    def get(self, r: ResourceId) -> Identity | None:
        return IDENTITIES.get(r.name)

    def list(self, subscription: str) -> list[Identity]:
        return list(IDENTITIES.values())

    def credentials(self, identity: Identity) -> list[FederatedCredential]:
        return self.credentials_of.get(identity.name, [])

    def permissions(self, identity: Identity) -> None:
        return None  # ARM will not say: the write itself would tell


@dataclass
class FakeCluster:
    accounts: dict[tuple[str, str], ServiceAccount] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    server: str = "https://cluster.example"

    def issuer(self) -> str:
        return "https://issuer.example/"

    def token_audience(self, namespace: str) -> tuple[str, str]:
        return "api://AzureADTokenExchange", "the webhook's default"

    def namespace_exists(self, namespace: str) -> bool:
        return True

    def service_account(self, ref: ServiceAccountRef) -> ServiceAccount | None:
        return self.accounts.get((ref.namespace, ref.name))

    def service_accounts(self, namespace: str | None) -> list[ServiceAccount]:
        return [sa for (ns, _), sa in self.accounts.items() if ns == namespace]

    def pods_of(self, ref: ServiceAccountRef) -> list[Pod]:
        return []

    def role_bindings(self, namespace: str) -> list[Any]:
        return [role_binding("RoleBinding", {
            "metadata": {"name": "view", "namespace": namespace},
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}]})]

    def can(self, *args: Any) -> bool:
        return True

    def request_token(self, ref: ServiceAccountRef, audience: str, seconds: int) -> str:
        self.tokens.append(ref.label)
        return "token"


class NoAks:
    def list(self) -> list[Cluster]:
        return []

    def get(self, resource_group: str, name: str) -> None:
        return None


def ports(cluster: FakeCluster, azure: FakeAzure | None = None) -> Ports:
    return Ports(azure or FakeAzure(), None, NoAks(), cluster, SUB)  # type: ignore[arg-type]


def sa(ns: str, name: str, client_id: str = "", pulls: tuple[str, ...] = ()) -> ServiceAccount:
    annotations = {"azure.workload.identity/client-id": client_id} if client_id else {}
    return from_json(ServiceAccount, {"metadata": {"name": name, "namespace": ns,
                                                   "annotations": annotations},
                                      "imagePullSecrets": [{"name": p} for p in pulls]})


def deployment(name: str, selector: str, account: str | None = None, ns: str = "apps",
               **pod: Any) -> Any:
    spec = {"containers": [{"name": "app", "image": "app"}], **pod}
    if account:
        spec["serviceAccountName"] = account
    return workload("Deployment", {
        "metadata": {"name": name, "namespace": ns, "generation": 1},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name, "aadpodidbinding": selector}},
                              "spec": spec}}})


def inventory(*workloads: Any, identities: list[dict[str, Any]] | None = None,
              bindings: list[tuple[str, str, str, str]] | None = None,
              force_namespaced: bool = False) -> Inventory:
    ids = identities if identities is not None else [
        {"metadata": {"name": "id-one", "namespace": "apps"},
         "spec": {"type": 0, "resourceID": rid("one"), "clientID": IDENTITIES["one"].client_id}},
        {"metadata": {"name": "id-two", "namespace": "apps"},
         "spec": {"type": 0, "resourceID": rid("two"), "clientID": IDENTITIES["two"].client_id}}]
    binds = bindings if bindings is not None else [("apps", "b-one", "id-one", "one"),
                                                   ("apps", "b-two", "id-two", "two")]
    return Inventory(True, None, [azure_identity(i) for i in ids],
                     [identity_binding({"metadata": {"namespace": ns, "name": n},
                                        "spec": {"azureIdentity": i, "selector": s}})
                      for ns, n, i, s in binds], [], list(workloads),
                     force_namespaced=force_namespaced)


def plan(inv: Inventory, cluster: FakeCluster | None = None, **opts: Any) -> dict[str, Any]:
    cluster = cluster or FakeCluster()
    found = plan_workloads(ports(cluster), cluster, inv, Options(**opts), Target())
    return {p.workload.name: p for p in found}


# -- reading pod identity's objects and workloads ------------------------------------------------

def test_an_azure_identity_reads_its_odd_field_names() -> None:
    ident = azure_identity({"metadata": {"name": "x", "namespace": "n"}, "spec": {
        "type": 1, "clientID": "ABC", "resourceID": " /x ", "tenantID": "t"}})
    assert (ident.client_id, ident.resource_id, ident.tenant_id) == ("abc", "/x", "t")
    assert not ident.user_assigned and ident.kind_text == "service principal (client secret)"
    assert azure_identity({"spec": {}}).user_assigned  # type 0 is the default


def test_each_kind_keeps_its_pod_template_where_it_is() -> None:
    cron = workload("CronJob", {"metadata": {"name": "c", "namespace": "n"}, "spec": {
        "jobTemplate": {"spec": {"template": {"metadata": {"labels": {"a": "b"}},
                                              "spec": {"serviceAccountName": "s"}}}}}})
    assert cron.template.metadata.labels == {"a": "b"} and cron.service_account == "s"
    assert cron.selector is None
    assert nest("CronJob", {"x": 1}) == {"spec": {"jobTemplate": {"spec": {"template": {
        "x": 1}}}}}
    pod = workload("Pod", {"metadata": {"name": "p", "namespace": "n", "labels": {"k": "v"}},
                           "spec": {}})
    assert pod.template.metadata.labels == {"k": "v"} and pod.service_account == "default"
    assert nest("Pod", {"x": 1}) == {"x": 1}


@pytest.mark.parametrize("labels, expected", [
    ({"app": "a", "tier": "web"}, True), ({"app": "a", "tier": "db"}, False),
    ({"app": "a", "tier": "web", "legacy": "1"}, False), ({"tier": "web"}, False)])
def test_selectors_match_as_the_api_server_does(labels: dict[str, str], expected: bool) -> None:
    sel = from_json(LabelSelector, {"matchLabels": {"app": "a"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["web"]},
        {"key": "legacy", "operator": "DoesNotExist"}]})
    assert selector_matches(sel, labels) is expected
    assert selector_text(sel) == "app=a,tier in (web),!legacy"


@pytest.mark.parametrize("kind, spec, status, done", [
    ("Deployment", {"replicas": 2}, {"observedGeneration": 2, "replicas": 2,
                                     "updatedReplicas": 2, "availableReplicas": 2}, True),
    ("Deployment", {"replicas": 2}, {"observedGeneration": 1}, False),
    ("Deployment", {"replicas": 2}, {"observedGeneration": 2, "replicas": 3,
                                     "updatedReplicas": 2, "availableReplicas": 2}, False),
    ("StatefulSet", {"replicas": 1}, {"observedGeneration": 2, "updatedReplicas": 1,
                                      "readyReplicas": 1, "currentRevision": "a",
                                      "updateRevision": "b"}, False),
    ("DaemonSet", {}, {"observedGeneration": 2, "desiredNumberScheduled": 1,
                       "updatedNumberScheduled": 1, "numberAvailable": 1}, True),
    ("CronJob", {}, {}, True),
])
def test_rollout_state_reads_status_as_kubectl_does(kind: str, spec: dict[str, Any],
                                                     status: dict[str, Any], done: bool) -> None:
    w = workload(kind, {"metadata": {"name": "w", "generation": 2}, "spec": spec,
                        "status": status})
    assert rollout_state(w)[0] is done


# -- the plan's rules -----------------------------------------------------------------------------

def test_default_moves_to_a_new_account_with_the_pull_secrets_and_role_bindings_listed() -> None:
    cluster = FakeCluster({("apps", "default"): sa("apps", "default", pulls=("reg",))})
    p = plan(inventory(deployment("web", "one")), cluster)["web"]
    assert p.state == MIGRATE
    assert (p.service_account, p.new_service_account, p.image_pull_secrets) == (
        "web", True, ("reg",))
    assert p.role_bindings == ["RoleBinding apps/view (ClusterRole view)"]
    assert p.template_patch == {"metadata": {"labels": {
        "azure.workload.identity/use": "true"}}, "spec": {"serviceAccountName": "web"}}
    creates = [(s.object, s.action) for s in p.bind.steps]
    assert creates == [("FederatedIdentityCredential", "create"), ("ServiceAccount", "create")]
    assert p.bind.steps[0].name == "apps-web"  # `wi bind`'s naming


def test_a_service_account_shared_across_identities_is_manual() -> None:
    p = plan(inventory(deployment("a", "one", "shared"), deployment("b", "two", "shared")))
    assert p["a"].state == p["b"].state == MANUAL
    assert "can carry one client id" in p["a"].manual


def test_an_account_bound_to_another_client_id_is_manual() -> None:
    cluster = FakeCluster({("apps", "mine"): sa("apps", "mine", "00000000-0000-4000-8000-"
                                                                "0000000000ff")})
    assert "already bound to client id" in plan(inventory(deployment("a", "one", "mine")),
                                                cluster)["a"].manual


def test_a_service_principal_and_a_selector_with_two_identities_are_manual() -> None:
    inv = inventory(deployment("sp", "sp"), deployment("both", "one"), identities=[
        {"metadata": {"name": "sp-id", "namespace": "apps"}, "spec": {"type": 2}},
        {"metadata": {"name": "id-one", "namespace": "apps"}, "spec": {"resourceID": rid("one")}},
        {"metadata": {"name": "id-two", "namespace": "apps"}, "spec": {"resourceID": rid("two")}}],
        bindings=[("apps", "b-sp", "sp-id", "sp"), ("apps", "b1", "id-one", "one"),
                  ("apps", "b2", "id-two", "one")])
    plans = plan(inv)
    assert "service principal (certificate)" in plans["sp"].manual
    assert "bound to 2 identities" in plans["both"].manual


def test_namespaced_mode_only_binds_in_the_identitys_namespace() -> None:
    other = deployment("far", "one", ns="elsewhere")
    assert plan(inventory(other))["far"].state == MIGRATE  # across namespaces by default
    assert plan(inventory(other, force_namespaced=True))["far"].state == "no identity"


def test_the_proxy_is_wanted_when_named_or_annotated_and_refused_on_the_host_network() -> None:
    plans = plan(inventory(deployment("a", "one"), deployment("h", "one", hostNetwork=True)),
                 proxy_for=("a", "h"))
    assert plans["a"].proxy and plans["a"].proxy_why == "named with --proxy-for"
    assert plans["a"].template_patch["metadata"]["annotations"] == {
        "azure.workload.identity/inject-proxy-sidecar": "true"}
    assert "hostNetwork: true" in plans["h"].manual
    assert not plan(inventory(deployment("a", "one")), proxy="never",
                    proxy_for=("a",))["a"].proxy


# -- bindings, exchange, manifests -----------------------------------------------------------------

def test_what_becomes_of_a_binding() -> None:
    inv = inventory()
    b = inv.bindings[0]
    assert binding_step(b, inv, ["Deployment apps/x"]).action == "keep"
    assert binding_step(b, inv, []).action == "delete"
    inv.aks = Cluster(ResourceId.parse(f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
                                       "Microsoft.ContainerService/managedClusters/aks"),
                      None, True, True, pod_identity_enabled=True,
                      pod_identities=(AksPodIdentity("pi", "apps", "one", rid("one"), ""),))
    step = binding_step(b, inv, [])
    assert step.action == "note" and step.detail.endswith(
        "az aks pod-identity delete --cluster-name aks --resource-group rg --namespace apps "
        "--name pi")
    inv.aks, inv.whole_cluster = None, False
    assert binding_step(b, inv, []).action == "keep"


@dataclass
class ScriptedEntra:
    answers: list[TokenExchange]
    calls: int = 0

    def exchange(self, tenant_id: str, client_id: str, assertion: str) -> TokenExchange:
        self.calls += 1
        return self.answers.pop(0) if self.answers else TokenExchange(claims={"oid": "x"})


def _exchange(entra: ScriptedEntra, wait: float) -> list[float]:
    cluster = FakeCluster()
    p = plan(inventory(deployment("web", "one")), cluster)["web"]
    slept: list[float] = []
    runner = Runner(ports(cluster), cluster, entra, Target(), wait, 60,  # type: ignore[arg-type]
                    Clock(sleep=slept.append, now=lambda: 0.0))
    exchange(runner, p)
    return slept


def test_a_fresh_credential_is_polled_for_then_accepted() -> None:
    refused = TokenExchange(code="AADSTS700213", message="AADSTS700213: no matching credential")
    entra = ScriptedEntra([refused, refused])
    assert _exchange(entra, 300) == [0.5, 1.0] and entra.calls == 3


def test_another_refusal_or_no_time_left_stops_at_once() -> None:
    with pytest.raises(RemoteError, match="AADSTS7000215"):
        _exchange(ScriptedEntra([TokenExchange(code="AADSTS7000215", message="AADSTS7000215: "
                                                                             "invalid")]), 300)
    with pytest.raises(RemoteError, match="run the same command again|Entra refused"):
        _exchange(ScriptedEntra([TokenExchange(code="AADSTS70025", message="AADSTS70025")]), 0)


def test_merge_patch_and_manifests_drop_what_the_server_owns() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}}
    inv = inventory(workload("Job", {
        "metadata": {"name": "j", "namespace": "apps", "uid": "u", "resourceVersion": "9"},
        "spec": {"selector": {"matchLabels": {"controller-uid": "u"}}, "template": {
            "metadata": {"labels": {"aadpodidbinding": "one", "controller-uid": "u",
                                    "job-name": "j"}},
            "spec": {"serviceAccountName": "jobs", "containers": []}}},
        "status": {"active": 1}}))
    p = plan(inv)["j"]
    assert p.prepare_only and p.state == MANUAL
    doc = workload_manifest(p)
    assert "status" not in doc and doc["metadata"] == {"name": "j", "namespace": "apps"}
    assert "selector" not in doc["spec"]
    assert doc["spec"]["template"]["metadata"]["labels"] == {
        "aadpodidbinding": "one", "azure.workload.identity/use": "true"}


# -- detection ------------------------------------------------------------------------------------

@dataclass
class PodIdentityFake(FakeCluster):
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    listed: list[Any] = field(default_factory=list)
    namespace_only: bool = False  # listing every namespace is forbidden

    def serves(self, group: str, version: str) -> list[str] | None:
        return list(self.objects) or None

    def _scoped(self, items: list[Any], namespace: str | None, ns_of: Any) -> list[Any]:
        if namespace is None and self.namespace_only:
            raise KubernetesError("forbidden", status=403)
        return [i for i in items if namespace is None or ns_of(i) == namespace]

    def custom_objects(self, group: str, version: str, plural: str,
                       namespace: str | None) -> list[dict[str, Any]]:
        return self._scoped(self.objects.get(plural, []), namespace,
                            lambda o: o["metadata"]["namespace"])

    def workloads(self, namespace: str | None) -> list[Any]:
        return self._scoped(self.listed, namespace, lambda w: w.namespace)

    def config_map(self, namespace: str, name: str) -> None:
        return None


def test_detection_finds_nmi_mic_and_namespaced_mode_and_reads_one_namespace_if_it_must() -> None:
    nmi = workload("DaemonSet", {"metadata": {"name": "nmi", "namespace": "kube-system"},
                                 "spec": {"template": {"spec": {"containers": [{
                                     "name": "nmi", "args": ["--forceNamespaced=true"],
                                     "image": "mcr.microsoft.com/oss/azure/aad-pod-identity/"
                                              "nmi:v1.8.17"}]}}}})
    objects = {"azureidentities": [{"metadata": {"name": "i", "namespace": "apps"},
                                    "spec": {"type": 0}}],
               "azureidentitybindings": []}
    cluster = PodIdentityFake(objects=objects, listed=[nmi, deployment("web", "one")])
    inv = detect(ports(cluster), cluster, None, Target())
    assert inv.installed and inv.force_namespaced and inv.whole_cluster
    assert inv.components == ["DaemonSet kube-system/nmi (NMI, mcr.microsoft.com/oss/azure/"
                              "aad-pod-identity/nmi:v1.8.17)"]
    cluster.namespace_only = True
    inv = detect(ports(cluster), cluster, "apps", Target())
    assert not inv.whole_cluster and [w.name for w in inv.workloads] == ["web"]
    assert "only namespace apps was read" in inv.notes[0]
    with pytest.raises(KubernetesError):
        detect(ports(cluster), cluster, None, Target())  # -A needs every namespace
    assert not detect(ports(cluster), PodIdentityFake(), None, Target()).installed


@pytest.mark.parametrize("argv, fragment", [
    (["--plan", "--apply"], "--plan and --apply do not go together"),
    (["-n", "demo", "-A"], "--namespace and --all-namespaces do not go together"),
    (["--proxy", "sometimes"], "is not auto, always or never"),
    (["--cluster", "aks"], "--cluster needs --resource-group"),
])
def test_bad_options_are_usage_errors_before_anything_is_read(wi, argv: list[str],
                                                               fragment: str) -> None:
    run = wi("migrate", *argv)
    assert run.code == 2
    assert fragment in run.err
