"""Workload identity in the lab, end to end, with the real clients.

The kubernetes client creates labelled pods under annotated ServiceAccounts; the emulated AWI
webhook mutates them (both token layouts); the kubelet runs a python3 script from a ConfigMap
that exchanges the projected token with azure-identity's WorkloadIdentityCredential at the
lab's Entra. Also: webhook failure modes, TokenRequest and the issuer documents.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import jwt
import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from wi_cli.lab.azure_state import UserAssignedIdentity
from wi_cli.lab.kube.aks import add_aks_cluster, set_oidc_issuer
from wi_cli.lab.kube.cluster import KubeCluster
from wi_cli.lab.kube.sa_tokens import NON_PUBLIC_ISSUER
from wi_cli.lab.kube.webhook import (CLIENT_ID_ANNOTATION, CONFIGURATION_NAME, DEPLOYMENT_NAME,
                                     TENANT_ID_ANNOTATION, TOKEN_EXPIRATION_ANNOTATION,
                                     USE_LABEL, WebhookSettings, LAYOUTS, mutate_pod)
from wi_cli.lab.runtime import Lab

NS = "apps"
AUDIENCE = "api://AzureADTokenExchange"

EXCHANGE_SCRIPT = """\
import base64, json, os, sys
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import WorkloadIdentityCredential

token_file = os.environ["AZURE_FEDERATED_TOKEN_FILE"]
sa_token = open(token_file).read()
seg = sa_token.split(".")[1]
sa_claims = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
print("SA", json.dumps({"iss": sa_claims["iss"], "sub": sa_claims["sub"], "aud": sa_claims["aud"]}))
try:
    access = WorkloadIdentityCredential().get_token(sys.argv[1]).token
except ClientAuthenticationError as exc:
    print("AUTH-ERROR", str(exc).replace("\\n", " "))
    sys.exit(2)
seg = access.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
print("ARM", json.dumps({"oid": claims["oid"], "appid": claims["appid"], "aud": claims["aud"]}))
"""


class World:
    def __init__(self, lab: Lab, tmp: Path) -> None:
        self.lab = lab
        az = lab.azure
        self.tenant_id = az.add_tenant()
        self.sub = az.add_subscription(self.tenant_id)
        self.v16 = add_aks_cluster(lab, self.sub.subscription_id, "rg-wi", "wi-aks-v16")
        self.v15 = add_aks_cluster(lab, self.sub.subscription_id, "rg-wi", "wi-aks-v15",
                                   layout="v1.5")
        self.no_webhook = add_aks_cluster(lab, self.sub.subscription_id, "rg-wi", "wi-aks-off",
                                          workload_identity=False)
        self.outage = add_aks_cluster(lab, self.sub.subscription_id, "rg-wi", "wi-aks-outage")
        self.identity = az.add_identity(self.sub.subscription_id, "rg-wi", "app-identity")
        self.other = az.add_identity(self.sub.subscription_id, "rg-wi", "broken-identity")
        issuer = self.v16.aks.record.issuer_url  # type: ignore[attr-defined]
        az.add_fic(self.identity, "app", issuer, f"system:serviceaccount:{NS}:workload-sa")
        az.add_fic(self.other, "wrong-subject", issuer, f"system:serviceaccount:{NS}:other-sa")
        self.apis: dict[str, client.CoreV1Api] = {}
        for cluster in (self.v16, self.v15, self.no_webhook, self.outage):
            cluster.store.create("namespaces", None, {"metadata": {"name": NS}})
            path = cluster.write_kubeconfig(tmp / f"{cluster.name}.config")
            self.apis[cluster.name] = client.CoreV1Api(
                config.new_client_from_config(config_file=str(path)))

    def api(self, cluster: KubeCluster) -> client.CoreV1Api:
        return self.apis[cluster.name]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with Lab() as lab:
        yield World(lab, tmp_path_factory.mktemp("wi"))


def wire(api: client.CoreV1Api, model: Any) -> dict[str, Any]:
    return api.api_client.sanitize_for_serialization(model)


def make_sa(api: client.CoreV1Api, name: str, annotations: dict[str, str]) -> None:
    try:
        api.create_namespaced_service_account(NS, {"metadata": {"name": name,
                                                                "annotations": annotations}})
    except ApiException as exc:
        if exc.status != 409:
            raise


def labelled_pod(name: str, sa: str, annotations: dict[str, str] | None = None,
                 command: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "python:3.11-slim"}
    if command:
        container["command"] = command
    return {"metadata": {"name": name, "labels": {USE_LABEL: "true"},
                         "annotations": annotations or {}},
            "spec": {"serviceAccountName": sa, "restartPolicy": "Never",
                     "containers": [container], **spec}}


def env_of(pod: dict[str, Any], index: int = 0) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][index].get("env")
            or []}


def wait_for(fetch: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool],
             timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = fetch()
        if done(last):
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out; last status: {last.get('status')}")


# -- injection ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["v1.6", "v1.5"])
def test_labelled_pod_gets_env_and_token_volume(world: World, layout: str) -> None:
    cluster = world.v16 if layout == "v1.6" else world.v15
    api = world.api(cluster)
    make_sa(api, "workload-sa", {CLIENT_ID_ANNOTATION: world.identity.client_id})
    created = wire(api, api.create_namespaced_pod(
        NS, labelled_pod(f"inject-{layout.replace('.', '')}", "workload-sa", {
            TOKEN_EXPIRATION_ANNOTATION: "7200"})))
    env = env_of(created)
    token_file = {"v1.6": "/var/run/secrets/azure/wi/token/azure-identity-token",
                  "v1.5": "/var/run/secrets/azure/tokens/azure-identity-token"}[layout]
    assert env["AZURE_CLIENT_ID"] == world.identity.client_id
    assert env["AZURE_TENANT_ID"] == world.tenant_id  # from the webhook's ConfigMap
    assert env["AZURE_FEDERATED_TOKEN_FILE"] == token_file
    assert env["AZURE_AUTHORITY_HOST"] == world.lab.authority_host
    volume = [v for v in created["spec"]["volumes"] if "projected" in v
              and v["projected"]["sources"][0].get("serviceAccountToken", {}).get("audience")
              == AUDIENCE][0]
    if layout == "v1.6":
        assert volume["name"].startswith("azure-workload-identity-reserved-")
        assert len(volume["name"]) == 63
    else:
        assert volume["name"] == "azure-identity-token"
    source = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert source["expirationSeconds"] == 7200
    mount = [m for m in created["spec"]["containers"][0]["volumeMounts"]
             if m["name"] == volume["name"]][0]
    assert token_file.startswith(mount["mountPath"] + "/") and mount["readOnly"] is True


def test_unlabelled_pod_is_not_mutated(world: World) -> None:
    api = world.api(world.v16)
    make_sa(api, "workload-sa", {CLIENT_ID_ANNOTATION: world.identity.client_id})
    body = labelled_pod("no-label", "workload-sa")
    body["metadata"]["labels"] = {}
    body["spec"]["serviceAccountName"] = "workload-sa"
    created = wire(api, api.create_namespaced_pod(NS, body))
    assert "AZURE_CLIENT_ID" not in env_of(created)


def test_user_env_wins_and_empty_tenant_annotation_is_not_injected(world: World) -> None:
    api = world.api(world.v16)
    make_sa(api, "empty-tenant", {CLIENT_ID_ANNOTATION: world.identity.client_id,
                                  TENANT_ID_ANNOTATION: ""})
    body = labelled_pod("own-env", "empty-tenant")
    body["spec"]["containers"][0]["env"] = [{"name": "AZURE_CLIENT_ID", "value": "mine"}]
    env = env_of(wire(api, api.create_namespaced_pod(NS, body)))
    assert env["AZURE_CLIENT_ID"] == "mine"
    assert "AZURE_TENANT_ID" not in env
    assert "AZURE_FEDERATED_TOKEN_FILE" in env


def test_missing_webhook_configuration_means_no_injection(world: World) -> None:
    api = world.api(world.no_webhook)
    make_sa(api, "workload-sa", {CLIENT_ID_ANNOTATION: world.identity.client_id})
    created = wire(api, api.create_namespaced_pod(NS, labelled_pod("plain", "workload-sa")))
    assert not any(k.startswith("AZURE_") for k in env_of(created))
    assert not any(v["name"].startswith("azure-") for v in created["spec"].get("volumes") or [])


def test_token_expiration_out_of_range_is_rejected(world: World) -> None:
    api = world.api(world.v16)
    make_sa(api, "workload-sa", {CLIENT_ID_ANNOTATION: world.identity.client_id})
    with pytest.raises(ApiException) as err:
        api.create_namespaced_pod(NS, labelled_pod("short", "workload-sa",
                                                   {TOKEN_EXPIRATION_ANNOTATION: "100"}))
    assert err.value.status == 400
    status = json.loads(err.value.body)
    assert status["message"] == (
        'admission webhook "mutation.azure-workload-identity.io" denied the request: '
        "token expiration 100 not valid. Expected value to be between 3600 and 86400")


def test_proxy_annotation_with_host_network_is_rejected(world: World) -> None:
    api = world.api(world.v16)
    make_sa(api, "workload-sa", {CLIENT_ID_ANNOTATION: world.identity.client_id})
    with pytest.raises(ApiException) as err:
        api.create_namespaced_pod(NS, labelled_pod(
            "proxy", "workload-sa", {"azure.workload.identity/inject-proxy-sidecar": "false"},
            hostNetwork=True))
    assert err.value.status == 400
    assert "hostNetwork is set to true, cannot inject proxy sidecar" in err.value.body


def test_webhook_without_endpoints_refuses_pods_then_ignore_lets_them_through(
        world: World) -> None:
    cluster = world.outage
    api = world.api(cluster)
    apps = client.AppsV1Api(api.api_client)
    admission = client.AdmissionregistrationV1Api(api.api_client)
    make_sa(api, "workload-sa", {CLIENT_ID_ANNOTATION: world.identity.client_id})
    deployment = wire(api, apps.read_namespaced_deployment(DEPLOYMENT_NAME, "kube-system"))
    assert deployment["status"]["readyReplicas"] == 2
    deployment["spec"]["replicas"] = 0
    apps.replace_namespaced_deployment(DEPLOYMENT_NAME, "kube-system", deployment)
    endpoints = wire(api, api.read_namespaced_endpoints("azure-wi-webhook-webhook-service",
                                                        "kube-system"))
    assert not endpoints.get("subsets")

    with pytest.raises(ApiException) as err:
        api.create_namespaced_pod(NS, labelled_pod("refused", "workload-sa"))
    status = json.loads(err.value.body)
    assert err.value.status == 500 and status["reason"] == "InternalError"
    assert status["message"] == (
        'Internal error occurred: failed calling webhook "mutation.azure-workload-identity.io": '
        'failed to call webhook: Post "https://azure-wi-webhook-webhook-service.kube-system.svc'
        ':443/mutate-v1-pod?timeout=10s": no endpoints available for service '
        '"azure-wi-webhook-webhook-service"')

    configuration = wire(api, admission.read_mutating_webhook_configuration(CONFIGURATION_NAME))
    configuration["webhooks"][0]["failurePolicy"] = "Ignore"
    admission.replace_mutating_webhook_configuration(CONFIGURATION_NAME, configuration)
    created = wire(api, api.create_namespaced_pod(NS, labelled_pod("ignored", "workload-sa")))
    assert "AZURE_CLIENT_ID" not in env_of(created)

    configuration = wire(api, admission.read_mutating_webhook_configuration(CONFIGURATION_NAME))
    configuration["webhooks"][0]["failurePolicy"] = "Fail"
    admission.replace_mutating_webhook_configuration(CONFIGURATION_NAME, configuration)
    deployment = wire(api, apps.read_namespaced_deployment(DEPLOYMENT_NAME, "kube-system"))
    deployment["spec"]["replicas"] = 2
    apps.replace_namespaced_deployment(DEPLOYMENT_NAME, "kube-system", deployment)
    created = wire(api, api.create_namespaced_pod(NS, labelled_pod("back", "workload-sa")))
    assert env_of(created)["AZURE_CLIENT_ID"] == world.identity.client_id


def test_kube_system_is_excluded_by_the_namespace_selector(world: World) -> None:
    api = world.api(world.v16)
    body = labelled_pod("system-pod", "default")
    created = wire(api, api.create_namespaced_pod("kube-system", body))
    assert "AZURE_FEDERATED_TOKEN_FILE" not in env_of(created)


def test_mutation_is_pure_and_skips_listed_containers() -> None:
    settings = WebhookSettings("tenant", "https://login.example/", LAYOUTS["v1.6"])
    pod = {"metadata": {"name": "p", "annotations": {
               "azure.workload.identity/skip-containers": " sidecar ;other"}},
           "spec": {"initContainers": [{"name": "init"}],
                    "containers": [{"name": "app"}, {"name": "sidecar"}]}}
    out = mutate_pod(pod, {"metadata": {"annotations": {}}}, settings)
    assert pod["spec"]["containers"][0] == {"name": "app"}  # input untouched
    assert "AZURE_CLIENT_ID" not in {e["name"] for e in out["spec"]["containers"][0]["env"]}
    assert out["spec"]["initContainers"][0]["env"]
    assert "env" not in out["spec"]["containers"][1]
    assert "volumeMounts" not in out["spec"]["containers"][1]


# -- TokenRequest and the issuer -----------------------------------------------------------------
def test_token_request_issues_a_bound_token_with_the_cluster_issuer(world: World) -> None:
    api = world.api(world.v16)
    make_sa(api, "workload-sa", {CLIENT_ID_ANNOTATION: world.identity.client_id})
    raw = api.create_namespaced_service_account_token("workload-sa", NS, {
        "spec": {"audiences": [AUDIENCE], "expirationSeconds": 3600}}, _preload_content=False)
    assert raw.status == 201
    resp = json.loads(raw.data)
    token = resp["status"]["token"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", resp["status"]["expirationTimestamp"])
    issuer = world.v16.aks.record.issuer_url  # type: ignore[attr-defined]
    keys = json.loads(_fetch(world.lab, f"{issuer}openid/v1/jwks"))
    key = jwt.PyJWK(keys["keys"][0])
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer)
    assert issuer.endswith("/")
    assert claims["sub"] == f"system:serviceaccount:{NS}:workload-sa"
    assert claims["exp"] - claims["iat"] == 3600
    sa = wire(api, api.read_namespaced_service_account("workload-sa", NS))
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "workload-sa",
                                                        "uid": sa["metadata"]["uid"]}


def test_token_request_too_short_is_422_and_missing_sa_404(world: World) -> None:
    api = world.api(world.v16)
    make_sa(api, "workload-sa", {})
    with pytest.raises(ApiException) as err:
        api.create_namespaced_service_account_token("workload-sa", NS, {
            "spec": {"audiences": [AUDIENCE], "expirationSeconds": 60}})
    assert err.value.status == 422
    status = json.loads(err.value.body)
    assert status["message"] == ('TokenRequest.authentication.k8s.io "workload-sa" is invalid: '
                                 "spec.expirationSeconds: Invalid value: 60: may not specify a "
                                 "duration less than 10 minutes")
    assert status["details"]["causes"][0]["field"] == "spec.expirationSeconds"
    with pytest.raises(ApiException) as err:
        api.create_namespaced_service_account_token("ghost", NS, {"spec": {"audiences": []}})
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == 'serviceaccounts "ghost" not found'


def _fetch(lab: Lab, url: str) -> bytes:
    with urllib.request.urlopen(url, context=lab.ca.client_context(), timeout=10) as resp:
        return resp.read()


def test_discovery_documents_match_on_api_server_and_issuer_host(world: World) -> None:
    api = world.api(world.v16)
    on_api_server = json.loads(client.WellKnownApi(
        api.api_client).get_service_account_issuer_open_id_configuration(
            _preload_content=False).data)
    issuer = world.v16.aks.record.issuer_url  # type: ignore[attr-defined]
    public = json.loads(_fetch(world.lab, f"{issuer}.well-known/openid-configuration"))
    assert on_api_server == public
    assert public["issuer"] == issuer and public["jwks_uri"] == f"{issuer}openid/v1/jwks"
    api_jwks = json.loads(client.OpenidApi(api.api_client).get_service_account_issuer_open_id_keyset(
        _preload_content=False).data)
    assert api_jwks == json.loads(_fetch(world.lab, public["jwks_uri"]))


def test_issuer_off_gives_the_in_cluster_issuer_and_hides_the_documents(world: World) -> None:
    cluster = world.outage
    api = world.api(cluster)
    make_sa(api, "workload-sa", {})
    issuer = cluster.aks.record.issuer_url  # type: ignore[attr-defined]
    set_oidc_issuer(cluster, False)
    try:
        token = wire(api, api.create_namespaced_service_account_token("workload-sa", NS, {
            "spec": {"audiences": [AUDIENCE]}}))["status"]["token"]
        assert jwt.decode(token, options={"verify_signature": False})["iss"] == NON_PUBLIC_ISSUER
        assert cluster.aks.record.issuer_url is None  # type: ignore[attr-defined]
        with pytest.raises(urllib.error.HTTPError) as err:
            _fetch(world.lab, f"{issuer}.well-known/openid-configuration")
        assert err.value.code == 404
    finally:
        set_oidc_issuer(cluster, True)
    token = wire(api, api.create_namespaced_service_account_token("workload-sa", NS, {
        "spec": {"audiences": [AUDIENCE]}}))["status"]["token"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == issuer


# -- the whole path: webhook, kubelet, token file, Entra, ARM token --------------------------------
def _run_exchange_pod(world: World, name: str, sa: str, identity: UserAssignedIdentity
                      ) -> tuple[dict[str, Any], str]:
    api = world.api(world.v16)
    make_sa(api, sa, {CLIENT_ID_ANNOTATION: identity.client_id})
    try:
        api.create_namespaced_config_map(NS, {"metadata": {"name": "exchange"},
                                              "data": {"exchange.py": EXCHANGE_SCRIPT}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    scope = world.lab.arm_audience + "/.default"
    body = labelled_pod(name, sa, command=["python3", "/scripts/exchange.py", scope])
    body["spec"]["containers"][0]["volumeMounts"] = [{"name": "scripts",
                                                      "mountPath": "/scripts"}]
    body["spec"]["volumes"] = [{"name": "scripts", "configMap": {"name": "exchange"}}]
    body["spec"]["activeDeadlineSeconds"] = 60
    api.create_namespaced_pod(NS, body)
    pod = wait_for(lambda: wire(api, api.read_namespaced_pod(name, NS)),
                   lambda p: p.get("status", {}).get("phase") in ("Succeeded", "Failed"),
                   timeout=60)
    return pod, api.read_namespaced_pod_log(name, NS)


def test_pod_exchanges_its_projected_token_for_an_arm_token(world: World) -> None:
    pod, log = _run_exchange_pod(world, "exchange-ok", "workload-sa", world.identity)
    assert pod["status"]["phase"] == "Succeeded", log
    lines = dict(line.split(" ", 1) for line in log.splitlines() if " " in line)
    sa_claims = json.loads(lines["SA"])
    assert sa_claims["sub"] == f"system:serviceaccount:{NS}:workload-sa"
    assert sa_claims["aud"] == [AUDIENCE]
    arm = json.loads(lines["ARM"])
    assert arm["oid"] == world.identity.principal_id
    assert arm["appid"] == world.identity.client_id
    assert "eyJ" not in log  # the script prints claims, never a token


def test_fic_with_another_subject_gives_aadsts700213(world: World) -> None:
    pod, log = _run_exchange_pod(world, "exchange-broken", "broken-sa", world.other)
    assert pod["status"]["phase"] == "Failed"
    assert "AADSTS700213" in log
    assert f"system:serviceaccount:{NS}:broken-sa" in log


def test_helm_install_on_an_addon_cluster_runs_two_controller_managers(world: World) -> None:
    from wi_cli.lab.kube.webhook import HELM_NAMESPACE, install_helm_webhook

    cluster = add_aks_cluster(world.lab, world.sub.subscription_id, "rg-wi", "wi-aks-helm")
    install_helm_webhook(cluster, world.tenant_id)
    pods, _ = cluster.store.list("pods", None, "azure-workload-identity.io/system=true")
    namespaces = {p["metadata"]["namespace"] for p in pods}
    assert namespaces == {"kube-system", HELM_NAMESPACE}
    assert all(p["status"]["phase"] == "Running" for p in pods)


def test_arm_serves_the_cluster_issuer_and_a_working_user_kubeconfig(
        world: World, tmp_path: Path) -> None:
    import base64
    import os
    import shutil
    import subprocess

    from azure.identity import ClientSecretCredential
    from azure.mgmt.containerservice import ContainerServiceClient

    operator = world.lab.azure.add_service_principal(world.tenant_id, "aks-reader")
    world.lab.azure.add_role_assignment(world.sub.id, "Owner", operator.object_id)
    ca = str(world.lab.ca_file)
    credential = ClientSecretCredential(world.tenant_id, operator.client_id,
                                        operator.secret or "",
                                        authority=world.lab.authority_host,
                                        disable_instance_discovery=True, connection_verify=ca)
    aks = ContainerServiceClient(credential, world.sub.subscription_id,
                                 base_url=world.lab.arm.url,
                                 credential_scopes=[world.lab.arm_audience + "/.default"],
                                 connection_verify=ca)
    mc = aks.managed_clusters.get("rg-wi", "wi-aks-v16")
    assert mc.oidc_issuer_profile.enabled is True
    assert mc.oidc_issuer_profile.issuer_url == world.v16.aks.record.issuer_url  # type: ignore[attr-defined]
    assert mc.security_profile.workload_identity.enabled is True
    off = aks.managed_clusters.get("rg-wi", "wi-aks-off")
    assert off.security_profile.workload_identity.enabled is False

    creds = aks.managed_clusters.list_cluster_user_credentials("rg-wi", "wi-aks-v16")
    value = creds.kubeconfigs[0].value
    text = value.decode() if isinstance(value, (bytes, bytearray)) else base64.b64decode(value).decode()
    path = tmp_path / "user.config"
    path.write_text(text)
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "get", "mutatingwebhookconfigurations", "-o", "name"],
                             env={**os.environ, "KUBECONFIG": str(path)},
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert CONFIGURATION_NAME in out.stdout


def test_token_bound_to_a_pod_names_pod_and_node(world: World) -> None:
    api = world.api(world.v16)
    make_sa(api, "workload-sa", {CLIENT_ID_ANNOTATION: world.identity.client_id})
    pod = wire(api, api.create_namespaced_pod(NS, {"metadata": {"name": "bound-target"}, "spec": {
        "serviceAccountName": "workload-sa", "containers": [{"name": "c", "image": "nginx"}]}}))
    resp = json.loads(api.create_namespaced_service_account_token("workload-sa", NS, {
        "spec": {"audiences": [AUDIENCE], "boundObjectRef": {
            "kind": "Pod", "apiVersion": "v1", "name": "bound-target",
            "uid": pod["metadata"]["uid"]}}}, _preload_content=False).data)
    claims = jwt.decode(resp["status"]["token"], options={"verify_signature": False})
    assert claims["kubernetes.io"]["pod"] == {"name": "bound-target",
                                              "uid": pod["metadata"]["uid"]}
    assert claims["kubernetes.io"]["node"]["name"] == pod["spec"]["nodeName"]
    assert resp["spec"]["expirationSeconds"] == 3600  # defaulted


def test_rotating_the_issuer_key_without_the_old_one_orphans_old_tokens(world: World) -> None:
    cluster = world.no_webhook
    api = world.api(cluster)
    make_sa(api, "workload-sa", {})
    issuer = cluster.sa_issuer  # type: ignore[attr-defined]

    def token() -> str:
        return json.loads(api.create_namespaced_service_account_token("workload-sa", NS, {
            "spec": {"audiences": [AUDIENCE]}}, _preload_content=False).data)["status"]["token"]

    def published_kids() -> set[str]:
        doc = json.loads(_fetch(world.lab, f"{issuer.public_url}openid/v1/jwks"))
        return {k["kid"] for k in doc["keys"]}

    old_kid = jwt.get_unverified_header(token())["kid"]
    issuer.rotate(keep_old=True)
    assert old_kid in published_kids() and len(published_kids()) == 2
    new_kid = jwt.get_unverified_header(token())["kid"]
    assert new_kid != old_kid
    issuer.rotate(keep_old=False)
    assert published_kids() == {issuer.signing_key.kid}
    assert old_kid not in published_kids() and new_kid not in published_kids()


# -- what the chart, AKS and the webhook versions really do (../shared/real-behaviour.md) --------
def test_images_come_from_the_charts_repository(world: World) -> None:
    deployment = world.v16.store.get("deployments", "kube-system", DEPLOYMENT_NAME)
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    # charts/workload-identity-webhook/values.yaml; Azure/AKS#4381
    assert image == "mcr.microsoft.com/oss/azure/workload-identity/webhook:v1.6.0"


def test_aks_enforcer_selector_and_the_kube_system_labels(world: World) -> None:
    mwc = world.v16.store.get("mutatingwebhookconfigurations", None, CONFIGURATION_NAME)
    assert mwc["webhooks"][0]["namespaceSelector"] == {"matchExpressions": [
        {"key": "control-plane", "operator": "NotIn", "values": ["true"]},
        {"key": "kubernetes.azure.com/managedby", "operator": "NotIn", "values": ["aks"]}]}
    labels = world.v16.store.get("namespaces", None, "kube-system")["metadata"]["labels"]
    assert labels["control-plane"] == "true"
    assert labels["kubernetes.azure.com/managedby"] == "aks"


def test_helm_chart_off_aks_has_an_empty_selector_and_mutates_kube_system(world: World) -> None:
    from wi_cli.lab.kube.webhook import install_helm_webhook

    cluster = KubeCluster(world.lab, "plain-k8s")
    install_helm_webhook(cluster, world.tenant_id)
    mwc = cluster.store.get("mutatingwebhookconfigurations", None, CONFIGURATION_NAME)
    assert mwc["webhooks"][0]["namespaceSelector"] == {}  # values.yaml: {}
    kube_system = cluster.store.get("namespaces", None, "kube-system")["metadata"]
    assert "control-plane" not in (kube_system.get("labels") or {})  # not an AKS cluster
    created = cluster.store.create("pods", "kube-system", labelled_pod("system-pod", "default"))
    assert "AZURE_FEDERATED_TOKEN_FILE" in env_of(created)


def test_v15_layout_keeps_an_existing_volume_and_mount_v16_replaces_them() -> None:
    own_volume = {"name": "azure-identity-token", "projected": {"sources": [
        {"serviceAccountToken": {"audience": "custom", "expirationSeconds": 7200,
                                 "path": "azure-identity-token"}}]}}
    own_mount = {"name": "azure-identity-token", "mountPath": "/custom", "readOnly": True}
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "app", "volumeMounts": [own_mount]}], "volumes": [own_volume]}}
    sa = {"metadata": {"annotations": {}}}
    v15 = mutate_pod(pod, sa, WebhookSettings("t", "https://login.example/", LAYOUTS["v1.5"]))
    # AWI v1.5.1 addProjectedTokenVolumeMount / addProjectedServiceAccountTokenVolume return early
    assert v15["spec"]["volumes"] == [own_volume]
    assert v15["spec"]["containers"][0]["volumeMounts"] == [own_mount]
    settings = WebhookSettings("t", "https://login.example/", LAYOUTS["v1.6"])
    name = LAYOUTS["v1.6"].volume_name("p")
    pod["spec"]["volumes"] = [dict(own_volume, name=name)]
    pod["spec"]["containers"][0]["volumeMounts"] = [dict(own_mount, name=name)]
    v16 = mutate_pod(pod, sa, settings)  # AWI v1.6.0 addProjectedVolume(Mount): replaced
    assert v16["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"][
        "audience"] == "api://AzureADTokenExchange"
    assert v16["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == "/var/run/secrets/azure/wi"


def test_aks_caps_service_account_tokens_at_one_day(world: World) -> None:
    """AKS: "maximum lifetime of the token ... is one day" (use-oidc-issuer.md); the API server
    shortens longer requests and says so in a Warning header (serviceaccount storage token.go)."""
    api = world.api(world.v16)
    make_sa(api, "workload-sa", {})
    raw = api.create_namespaced_service_account_token("workload-sa", NS, {
        "spec": {"audiences": [AUDIENCE], "expirationSeconds": 7 * 86400}},
        _preload_content=False)
    resp = json.loads(raw.data)
    assert raw.status == 201 and resp["spec"]["expirationSeconds"] == 86400
    assert raw.headers["Warning"] == ('299 - "requested expiration of 604800 seconds shortened '
                                      'to 86400 seconds"')
    claims = jwt.decode(resp["status"]["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 86400
    plain = KubeCluster(world.lab, "plain-tokens")
    from wi_cli.lab.kube.sa_tokens import install_issuer

    issuer = install_issuer(plain, world.tenant_id)
    minted = issuer.mint(NS, "x", "uid", [AUDIENCE], 7 * 86400)
    assert minted.claims["exp"] - minted.claims["iat"] == 7 * 86400  # no cap off AKS
