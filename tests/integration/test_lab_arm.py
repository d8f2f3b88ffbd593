"""The lab's Azure Resource Manager, driven by the real azure-mgmt-* SDK clients over HTTPS.

Tokens come from the lab's Entra through ClientSecretCredential in the main flow, and otherwise
from :class:`LabTokenCredential`, a TokenCredential that mints the same tokens in-process (an
implementation of the credential protocol, so each test does not pay for a token round trip).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import yaml
from azure.core.credentials import AccessToken
from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                   ResourceExistsError, ResourceNotFoundError)
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from wi_cli.lab.azure_state import ManagedCluster, ServicePrincipal
from wi_cli.lab.keys import SigningKey
from wi_cli.lab.runtime import Lab
from wi_cli.lab.tokens import mint_access_token

RG = "rg-wi"
OTHER_RG = "rg-other"
ISSUER_PATH = "oidc/issuer"
SUBJECT = "system:serviceaccount:apps:web"
AUD = "api://AzureADTokenExchange"
READER_ID = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
OWNER_ID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
KV_USER_ID = "4633458b-17de-408a-b874-0445c86b69e6"
FIC_API = "2024-11-30"


class LabTokenCredential:
    """azure-core's TokenCredential protocol over the lab's own token minting."""

    def __init__(self, lab: Lab, sp: ServicePrincipal, lifetime: int = 3000) -> None:
        self.lab, self.sp, self.lifetime = lab, sp, lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        resource = scopes[0][: -len("/.default")] if scopes[0].endswith("/.default") else scopes[0]
        token = mint_access_token(self.lab, self.sp, resource, lifetime=self.lifetime)
        return AccessToken(token, int(time.time()) + self.lifetime)


@dataclass
class World:
    lab: Lab
    tenant: str
    sub: str
    operator: ServicePrincipal  # Owner on the subscription
    reader: ServicePrincipal  # Reader on the subscription
    rg_reader: ServicePrincipal  # Reader on RG only
    nobody: ServicePrincipal  # no role anywhere
    issuer: str

    def kw(self, **extra: Any) -> dict[str, Any]:
        return {"base_url": self.lab.arm.url,
                "credential_scopes": [self.lab.arm_audience + "/.default"],
                "connection_verify": str(self.lab.ca_file), **extra}

    def cred(self, sp: ServicePrincipal | None = None) -> LabTokenCredential:
        return LabTokenCredential(self.lab, sp or self.operator)

    def aks(self, sp: ServicePrincipal | None = None, **extra: Any) -> ContainerServiceClient:
        return ContainerServiceClient(self.cred(sp), self.sub, **self.kw(**extra))

    def msi(self, sp: ServicePrincipal | None = None, **extra: Any) -> ManagedServiceIdentityClient:
        return ManagedServiceIdentityClient(self.cred(sp), self.sub, **self.kw(**extra))

    def authz(self, sp: ServicePrincipal | None = None) -> AuthorizationManagementClient:
        return AuthorizationManagementClient(self.cred(sp), self.sub, **self.kw())

    def subs(self, sp: ServicePrincipal | None = None) -> SubscriptionClient:
        return SubscriptionClient(self.cred(sp), **self.kw())

    @property
    def sub_id(self) -> str:
        return f"/subscriptions/{self.sub}"

    @property
    def rg_id(self) -> str:
        return f"{self.sub_id}/resourceGroups/{RG}"

    def raw(self, method: str, path: str, *, sp: ServicePrincipal | None = None,
            token: str | None = "mint", json: Any = None, **params: str) -> requests.Response:
        headers = {}
        if token == "mint":
            token = mint_access_token(self.lab, sp or self.operator, self.lab.arm_audience)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.lab.arm.url + path, params=params, json=json,
                                headers=headers, verify=str(self.lab.ca_file), timeout=10)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Lab() as lab:
        az = lab.azure
        tenant = az.add_tenant()
        sub = az.add_subscription(tenant).subscription_id
        az.add_resource_group(sub, RG, "westeurope")
        az.add_resource_group(sub, OTHER_RG, "westeurope")
        operator = az.add_service_principal(tenant, "wi-operator")
        reader = az.add_service_principal(tenant, "wi-reader")
        rg_reader = az.add_service_principal(tenant, "wi-rg-reader")
        nobody = az.add_service_principal(tenant, "wi-nobody")
        az.add_role_assignment(f"/subscriptions/{sub}", "Owner", operator.object_id)
        az.add_role_assignment(f"/subscriptions/{sub}", "Reader", reader.object_id)
        az.add_role_assignment(f"/subscriptions/{sub}/resourceGroups/{RG}", "Reader",
                               rg_reader.object_id)
        key = SigningKey()
        issuer = lab.oidc.register(ISSUER_PATH, lambda: [key])
        az.add_cluster(ManagedCluster(sub, RG, "aks-wi", "westeurope", issuer_url=issuer))
        az.add_cluster(ManagedCluster(sub, RG, "aks-plain", "westeurope",
                                      oidc_issuer_enabled=False, workload_identity_enabled=False))
        az.add_cluster(ManagedCluster(sub, OTHER_RG, "aks-other", "westeurope"))
        yield World(lab, tenant, sub, operator, reader, rg_reader, nobody, issuer)


@pytest.fixture
def small_pages(world: World) -> Iterator[None]:
    saved = world.lab.azure.page_size
    world.lab.azure.page_size = 1
    yield
    world.lab.azure.page_size = saved


@pytest.fixture
def identity(world: World) -> Iterator[str]:
    """A fresh identity in RG, created through the SDK; its name."""
    name = f"id-{uuid.uuid4().hex[:8]}"
    world.msi().user_assigned_identities.create_or_update(RG, name, {"location": "westeurope"})
    yield name


def fic_params(issuer: str, subject: str = SUBJECT, audiences: list[str] | None = None) -> dict:
    return {"properties": {"issuer": issuer, "subject": subject,
                           "audiences": [AUD] if audiences is None else audiences}}


def status_of(pipeline_response: Any, deserialized: Any, headers: Any) -> int:
    return pipeline_response.http_response.status_code


# ------------------------------------------------------------------------------------------ flow
def test_main_flow_with_client_secret_credential(world: World) -> None:
    """Operator signs in at the lab's Entra, reads the cluster, binds an identity, checks roles."""
    cred = ClientSecretCredential(world.tenant, world.operator.client_id, world.operator.secret,
                                  authority=world.lab.authority_host,
                                  disable_instance_discovery=True,
                                  connection_verify=str(world.lab.ca_file))
    try:
        cred.get_token(world.lab.arm_audience + "/.default")
    except ClientAuthenticationError as exc:  # the Entra emulator is not serving tokens yet
        pytest.skip(f"lab Entra token endpoint not ready: {exc.message[:80]}")
    kw = world.kw()
    assert [s.subscription_id for s in SubscriptionClient(cred, **kw).subscriptions.list()] == [
        world.sub]
    mc = ContainerServiceClient(cred, world.sub, **kw).managed_clusters.get(RG, "aks-wi")
    assert mc.properties.oidc_issuer_profile.issuer_url == world.issuer
    assert mc.properties.security_profile.workload_identity.enabled is True
    msi = ManagedServiceIdentityClient(cred, world.sub, **kw)
    ident = msi.user_assigned_identities.create_or_update(RG, "id-flow", {"location": "westeurope"})
    fic = msi.federated_identity_credentials.create_or_update(
        RG, "id-flow", "web", fic_params(mc.properties.oidc_issuer_profile.issuer_url))
    assert fic.issuer == world.issuer and fic.audiences == [AUD]
    authz = AuthorizationManagementClient(cred, world.sub, **kw)
    ra = authz.role_assignments.create(
        f"{world.rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-flow",
        str(uuid.uuid4()),
        {"role_definition_id": f"/providers/Microsoft.Authorization/roleDefinitions/{KV_USER_ID}",
         "principal_id": ident.principal_id, "principal_type": "ServicePrincipal"})
    assert ra.principal_id == ident.principal_id
    mine = list(authz.role_assignments.list_for_scope(
        world.sub_id, filter=f"assignedTo('{ident.principal_id}')"))
    assert [a.id for a in mine] == [ra.id]


# ------------------------------------------------------------------------------------------ front door
def test_metadata_endpoint_object_and_list_forms(world: World) -> None:
    obj = requests.get(world.lab.metadata_url, verify=str(world.lab.ca_file), timeout=10).json()
    assert obj["name"] == "WiLab"
    assert obj["resourceManager"] == world.lab.arm_endpoint
    assert obj["authentication"] == {"audiences": [world.lab.arm_audience], "identityProvider": "AAD",
                                     "loginEndpoint": world.lab.authority_host, "tenant": "common"}
    assert {"storage", "keyVaultDns", "acrLoginServer"} <= set(obj["suffixes"])
    old = requests.get(f"{world.lab.arm.url}/metadata/endpoints", params={"api-version": "2019-05-01"},
                       verify=str(world.lab.ca_file), timeout=10).json()
    assert isinstance(old, list) and old[0]["name"] == "WiLab" and "gallery" in old[0]


def test_api_version_missing_and_unknown(world: World) -> None:
    path = f"{world.rg_id}/providers/Microsoft.ContainerService/managedClusters/aks-wi"
    missing = world.raw("GET", path)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    with pytest.raises(HttpResponseError) as err:
        world.aks(api_version="2099-01-01").managed_clusters.get(RG, "aks-wi")
    assert err.value.status_code == 400 and err.value.error.code == "InvalidApiVersionParameter"
    assert "'2099-01-01' is invalid" in err.value.message and "2026-08-01" in err.value.message
    # what each installed SDK sends is accepted, older stable msi too
    assert world.raw("GET", path.replace("aks-wi", "aks-plain"), **{"api-version": "2025-10-01"}).ok
    r = world.raw("GET", f"{world.rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
                  **{"api-version": "2023-01-31"})
    assert r.status_code == 200



@pytest.mark.parametrize("path,version", [
    ("/providers/Microsoft.ContainerService/managedClusters/aks-wi", "2026-06-01"),
    ("/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}", "2025-05-31-preview"),
    ("/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}"
     "/federatedIdentityCredentials", "2025-01-31-preview"),
])
def test_api_versions_the_azure_cli_sends(world: World, identity: str, path: str,
                                          version: str) -> None:
    """What az 2.91 sends (bench/bind_vs_az.py drives it): `az aks show` through
    azure-mgmt-containerservice 41.6.0, `az identity show` and `az identity federated-credential`
    through their generated (aaz) commands."""
    r = world.raw("GET", world.rg_id + path.format(identity=identity), **{"api-version": version})
    assert r.status_code == 200, r.text

def test_bad_tokens_get_401_with_www_authenticate(world: World) -> None:
    path = f"/subscriptions/{world.sub}"
    no_token = world.raw("GET", path, token=None, **{"api-version": "2022-12-01"})
    assert no_token.status_code == 401
    assert no_token.json()["error"]["code"] == "AuthenticationFailed"
    challenge = no_token.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer authorization_uri="{world.lab.authority_host}{world.tenant}"')
    assert 'error="invalid_token"' in challenge and "error_description=" in challenge

    forged = SigningKey().sign({"aud": world.lab.arm_audience, "tid": world.tenant,
                                "oid": world.operator.object_id, "exp": time.time() + 600})
    r = world.raw("GET", path, token=forged, **{"api-version": "2022-12-01"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"

    class Expired(LabTokenCredential):
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            token = mint_access_token(self.lab, self.sp, self.lab.arm_audience, lifetime=-60)
            return AccessToken(token, int(time.time()) + 3000)  # lies, so the SDK sends it
    with pytest.raises(ClientAuthenticationError) as err:
        ContainerServiceClient(Expired(world.lab, world.operator), world.sub,
                               **world.kw()).managed_clusters.get(RG, "aks-wi")
    assert err.value.error.code == "ExpiredAuthenticationToken"

    graph_token = mint_access_token(world.lab, world.operator, "https://graph.microsoft.com")
    r = world.raw("GET", path, token=graph_token, **{"api-version": "2022-12-01"})
    assert r.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    # the other ARM audience is accepted, as real ARM accepts both
    classic = mint_access_token(world.lab, world.operator, "https://management.core.windows.net/")
    assert world.raw("GET", path, token=classic, **{"api-version": "2022-12-01"}).status_code == 200


def test_token_from_another_tenant_is_refused(world: World) -> None:
    other_tenant = world.lab.azure.add_tenant()
    stranger = world.lab.azure.add_service_principal(other_tenant, "stranger")
    world.lab.azure.add_role_assignment(world.sub_id, "Reader", stranger.object_id)
    with pytest.raises(ClientAuthenticationError) as err:
        world.aks(stranger).managed_clusters.get(RG, "aks-wi")
    assert err.value.error.code == "InvalidAuthenticationTokenTenant"
    assert world.tenant in err.value.message


def test_response_headers(world: World) -> None:
    r = world.raw("GET", f"/subscriptions/{world.sub}", **{"api-version": "2022-12-01"})
    for header in ("x-ms-request-id", "x-ms-correlation-request-id",
                   "x-ms-ratelimit-remaining-subscription-reads"):
        assert r.headers.get(header)


# ------------------------------------------------------------------------------------------ subscriptions
def test_subscriptions_list_and_get(world: World) -> None:
    subs = list(world.subs().subscriptions.list())
    assert [s.subscription_id for s in subs] == [world.sub]
    assert subs[0].tenant_id == world.tenant and subs[0].state == "Enabled"
    assert [s.subscription_id for s in world.subs(world.rg_reader).subscriptions.list()] == [world.sub]
    assert list(world.subs(world.nobody).subscriptions.list()) == []
    assert world.subs().subscriptions.get(world.sub).display_name
    with pytest.raises(ResourceNotFoundError) as err:
        world.subs().subscriptions.get(str(uuid.uuid4()))
    assert err.value.error.code == "SubscriptionNotFound"
    with pytest.raises(HttpResponseError) as denied:
        world.subs(world.nobody).subscriptions.get(world.sub)
    assert denied.value.status_code == 403


# ------------------------------------------------------------------------------------------ AKS
def test_cluster_get_and_workload_identity_fields(world: World) -> None:
    aks = world.aks()
    mc = aks.managed_clusters.get(RG, "aks-wi")
    assert mc.id == f"{world.rg_id}/providers/Microsoft.ContainerService/managedClusters/aks-wi"
    assert mc.type == "Microsoft.ContainerService/managedClusters"
    assert mc.properties.provisioning_state == "Succeeded"
    assert mc.properties.power_state.code == "Running"
    assert mc.properties.identity_profile["kubeletidentity"].client_id
    assert mc.properties.node_resource_group == "MC_rg-wi_aks-wi_westeurope"
    plain = aks.managed_clusters.get(RG, "aks-plain")
    assert plain["properties"]["oidcIssuerProfile"] == {"enabled": False}  # no issuerURL
    assert plain.properties.security_profile.workload_identity.enabled is False


def test_cluster_not_found_codes(world: World) -> None:
    aks = world.aks()
    with pytest.raises(ResourceNotFoundError) as err:
        aks.managed_clusters.get(RG, "missing")
    assert err.value.error.code == "ResourceNotFound"
    assert "Microsoft.ContainerService/managedClusters/missing" in err.value.message
    with pytest.raises(ResourceNotFoundError) as err:
        aks.managed_clusters.get("rg-missing", "aks-wi")
    assert err.value.error.code == "ResourceGroupNotFound"


def test_cluster_lists_page_and_filter_by_rbac(world: World, small_pages: None) -> None:
    aks = world.aks()
    by_rg = aks.managed_clusters.list_by_resource_group(RG)
    pages = list(by_rg.by_page())
    assert len(pages) == 2 and sorted(c.name for p in pages for c in p) == ["aks-plain", "aks-wi"]
    assert sorted(c.name for c in aks.managed_clusters.list()) == ["aks-other", "aks-plain", "aks-wi"]
    # an RG-scoped reader lists the subscription and sees only what it may read
    assert sorted(c.name for c in world.aks(world.rg_reader).managed_clusters.list()) == [
        "aks-plain", "aks-wi"]
    with pytest.raises(HttpResponseError) as err:
        list(world.aks(world.rg_reader).managed_clusters.list_by_resource_group(OTHER_RG))
    assert err.value.status_code == 403


def test_list_cluster_user_credential(world: World) -> None:
    result = world.aks().managed_clusters.list_cluster_user_credentials(RG, "aks-wi")
    assert result.kubeconfigs[0].name == "clusterUser"
    config = yaml.safe_load(result.kubeconfigs[0].value)
    assert config["kind"] == "Config" and config["clusters"][0]["cluster"]["server"].startswith("https://")
    raw = world.raw("POST", f"{world.rg_id}/providers/Microsoft.ContainerService/managedClusters/aks-wi"
                    "/listClusterUserCredential", **{"api-version": "2026-08-01"}).json()
    assert yaml.safe_load(base64.b64decode(raw["kubeconfigs"][0]["value"]))["current-context"]
    # Reader's */read does not cover the .../action
    with pytest.raises(HttpResponseError) as err:
        world.aks(world.reader).managed_clusters.list_cluster_user_credentials(RG, "aks-wi")
    assert err.value.status_code == 403 and err.value.error.code == "AuthorizationFailed"
    assert ("Microsoft.ContainerService/managedClusters/listClusterUserCredential/action"
            in err.value.message)


def test_cluster_kubeconfig_comes_from_the_cluster_when_wired(world: World) -> None:
    cluster = world.lab.azure.cluster(world.sub, RG, "aks-plain")
    assert cluster is not None
    cluster.kubeconfig = lambda: "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
    try:
        result = world.aks().managed_clusters.list_cluster_user_credentials(RG, "aks-plain")
        assert yaml.safe_load(result.kubeconfigs[0].value)["current-context"] == "lab"
    finally:
        cluster.kubeconfig = None


# ------------------------------------------------------------------------------------------ identities
def test_identity_create_get_list(world: World, small_pages: None) -> None:
    msi = world.msi()
    name = f"id-{uuid.uuid4().hex[:6]}"
    params = {"location": "westeurope", "tags": {"app": "web"}}
    assert msi.user_assigned_identities.create_or_update(RG, name, params, cls=status_of) == 201
    assert msi.user_assigned_identities.create_or_update(RG, name, params, cls=status_of) == 200
    got = msi.user_assigned_identities.get(RG, name)
    assert got.tags == {"app": "web"} and got.tenant_id == world.tenant
    assert got.id.lower() == (f"{world.rg_id}/providers/Microsoft.ManagedIdentity/"
                              f"userAssignedIdentities/{name}").lower()
    assert world.lab.azure.principal_by_object_id(got.principal_id) is not None
    assert abs(got.system_data.created_at.timestamp() - time.time()) < 60  # wi reads its age
    in_rg = list(msi.user_assigned_identities.list_by_resource_group(RG).by_page())
    assert name in [i.name for page in in_rg for i in page] and len(in_rg) >= 1
    everywhere = [i.name for i in msi.user_assigned_identities.list_by_subscription()]
    assert name in everywhere
    with pytest.raises(ResourceNotFoundError):
        msi.user_assigned_identities.get(RG, "id-missing")
    with pytest.raises(HttpResponseError) as err:
        world.msi(world.reader).user_assigned_identities.create_or_update(
            RG, "id-denied", {"location": "westeurope"})
    assert err.value.status_code == 403


def test_identity_list_pages_over_two_pages(world: World, small_pages: None) -> None:
    msi = world.msi()
    for i in range(2):
        msi.user_assigned_identities.create_or_update(OTHER_RG, f"id-page-{i}", {"location": "westeurope"})
    pages = list(msi.user_assigned_identities.list_by_resource_group(OTHER_RG).by_page())
    sizes = [len(list(p)) for p in pages]
    assert len(sizes) >= 2 and set(sizes) == {1}


# ------------------------------------------------------------------------------------------ FICs
def test_fic_create_update_get_list_delete(world: World, identity: str) -> None:
    fics = world.msi().federated_identity_credentials
    assert fics.create_or_update(RG, identity, "web", fic_params(world.issuer), cls=status_of) == 201
    # the same name may update itself with the same issuer+subject
    assert fics.create_or_update(RG, identity, "web", fic_params(world.issuer), cls=status_of) == 200
    got = fics.get(RG, identity, "web")
    assert (got.issuer, got.subject, got.audiences) == (world.issuer, SUBJECT, [AUD])
    assert got.type == "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
    assert got.system_data.created_at is not None
    stored = world.lab.azure.identity(world.sub, RG, identity).fics["web"]
    assert stored.created_at <= time.time()
    assert [f.name for f in fics.list(RG, identity)] == ["web"]
    assert fics.delete(RG, identity, "web", cls=status_of) == 200
    assert fics.delete(RG, identity, "web", cls=status_of) == 204
    with pytest.raises(ResourceNotFoundError):
        fics.get(RG, identity, "web")


def test_fic_list_pages_with_top_and_skiptoken(world: World, identity: str) -> None:
    fics = world.msi().federated_identity_credentials
    for i in range(5):
        fics.create_or_update(RG, identity, f"fic-{i}", fic_params(world.issuer, f"{SUBJECT}-{i}"))
    pages = [[f.name for f in page] for page in fics.list(RG, identity, top=2).by_page()]
    assert pages == [["fic-0", "fic-1"], ["fic-2", "fic-3"], ["fic-4"]]
    first = world.raw("GET", f"{world.rg_id}/providers/Microsoft.ManagedIdentity/"
                      f"userAssignedIdentities/{identity}/federatedIdentityCredentials",
                      **{"api-version": FIC_API, "$top": "2"}).json()
    assert "$skiptoken=" in first["nextLink"] and first["nextLink"].startswith(world.lab.arm.url)


def _raw_fic(world: World, identity: str, name: str, body: Any,
             sp: ServicePrincipal | None = None) -> requests.Response:
    return world.raw("PUT", f"{world.rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                     f"{identity}/federatedIdentityCredentials/{name}", sp=sp, json=body,
                     **{"api-version": FIC_API})


@pytest.mark.parametrize("name,body,message", [
    ("a", None, "Federated Identity Credential name 'a' is invalid."),
    ("-bad", None, "Federated Identity Credential name '-bad' is invalid."),
    ("x" * 121, None, "is invalid."),
    ("ok-name", {"properties": {}}, "Federated Identity Credential from HTTP body has empty properties"),
    ("ok-name", {}, "Federated Identity Credential from HTTP body has empty properties"),
    ("ok-name", fic_params("http://insecure.example/"), "HTTPS URL"),
    ("ok-name", fic_params("https://" + "a" * 600), "HTTPS URL"),
    ("ok-name", fic_params(" https://issuer.example/"), "HTTPS URL"),
    ("ok-name", fic_params("https://issuer.example/ "), "HTTPS URL"),
    ("ok-name", fic_params("https://issuer.example/", subject=""), "Subject"),
    ("ok-name", fic_params("https://issuer.example/", subject="s" * 601), "Subject"),
    ("ok-name", fic_params("https://issuer.example/", audiences=[]), "exactly one audience"),
    ("ok-name", fic_params("https://issuer.example/", audiences=[AUD, "api://other"]),
     "exactly one audience"),
])
def test_fic_validation_limits(world: World, identity: str, name: str, body: Any,
                               message: str) -> None:
    r = _raw_fic(world, identity, name, fic_params("https://issuer.example/") if body is None else body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BadRequest" and message in r.json()["error"]["message"]


@pytest.fixture
def instant_fic_writes(world: World) -> Iterator[None]:
    world.lab.azure.fic_write_seconds = 0.0
    yield
    world.lab.azure.fic_write_seconds = 0.05


def test_fic_limits_that_need_state(world: World, identity: str, instant_fic_writes: None) -> None:
    fics = world.msi().federated_identity_credentials
    fics.create_or_update(RG, identity, "first", fic_params(world.issuer))
    with pytest.raises(HttpResponseError) as dup:
        fics.create_or_update(RG, identity, "second", fic_params(world.issuer))
    assert dup.value.status_code == 400
    assert "Issuer and subject combination already exists" in dup.value.message
    assert fics.create_or_update(RG, identity, "FIRST", fic_params(world.issuer), cls=status_of) == 200
    for i in range(19):
        fics.create_or_update(RG, identity, f"more-{i:02d}", fic_params(world.issuer, f"sub-{i}"))
    with pytest.raises(HttpResponseError) as full:
        fics.create_or_update(RG, identity, "twenty-one", fic_params(world.issuer, "sub-21"))
    assert full.value.status_code == 400 and "maximum of 20" in full.value.message
    with pytest.raises(ResourceNotFoundError) as parent:
        fics.create_or_update(RG, "id-nonexistent", "web", fic_params(world.issuer))
    assert "parent user-assigned identity doesn't exist" in parent.value.message


def test_fic_unsupported_region_is_405(world: World) -> None:
    world.msi().user_assigned_identities.create_or_update(RG, "id-nz", {"location": "newzealandnorth"})
    with pytest.raises(HttpResponseError) as err:
        world.msi().federated_identity_credentials.create_or_update(
            RG, "id-nz", "web", fic_params(world.issuer))
    assert err.value.status_code == 405
    # entra-docs workload-identity-federation-considerations.md, error table
    assert err.value.error.message == ("The request format was unexpected: Support for federated "
                                       "identity credentials not enabled.")


def test_reader_cannot_write_a_fic(world: World, identity: str) -> None:
    with pytest.raises(HttpResponseError) as err:
        world.msi(world.reader).federated_identity_credentials.create_or_update(
            RG, identity, "web", fic_params(world.issuer))
    assert err.value.status_code == 403 and err.value.error.code == "AuthorizationFailed"
    oid = world.reader.object_id
    assert f"The client '{oid}' with object id '{oid}'" in err.value.message
    assert ("'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'"
            in err.value.message)
    assert f"userAssignedIdentities/{identity}/federatedIdentityCredentials/web'" in err.value.message
    assert [f.name for f in world.msi(world.reader).federated_identity_credentials.list(RG, identity)] == []


def test_concurrent_fic_writes_to_one_identity_conflict(world: World, identity: str) -> None:
    world.lab.azure.fic_write_seconds = 0.4
    barrier = threading.Barrier(2)
    results: list[int] = []
    refusals: list[dict[str, Any]] = []

    def write(i: int) -> None:
        barrier.wait()
        r = _raw_fic(world, identity, f"par-{i}", fic_params(world.issuer, f"{SUBJECT}-{i}"))
        results.append(r.status_code)
        if r.status_code == 409:
            refusals.append(r.json()["error"])
    try:
        threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(results) == [201, 409]
        # the observed body: Azure/bicep-registry-modules#1447
        assert refusals == [{
            "code": "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
            "message": "Too many Federated Identity Credentials are written concurrently for the "
                       f"managed identity '/subscriptions/{world.sub}/resourcegroups/{RG}/"
                       f"providers/microsoft.managedidentity/userassignedidentities/{identity}'. "
                       "Concurrent Federated Identity Credentials writes under the same managed "
                       "identity are not supported."}]
        # sequential writes are fine, as are writes to another identity meanwhile
        assert _raw_fic(world, identity, "par-9", fic_params(world.issuer, "seq")).status_code == 201
    finally:
        world.lab.azure.fic_write_seconds = 0.05


# ------------------------------------------------------------------------------------------ role assignments
def test_role_assignment_lifecycle(world: World, identity: str) -> None:
    authz = world.authz()
    principal = world.msi().user_assigned_identities.get(RG, identity).principal_id
    name = str(uuid.uuid4())
    params = {"role_definition_id": f"{world.sub_id}/providers/Microsoft.Authorization/"
                                    f"roleDefinitions/{READER_ID}",
              "principal_id": principal}
    created = authz.role_assignments.create(world.rg_id, name, params)
    assert created.scope == world.rg_id and created.principal_type == "ServicePrincipal"
    assert created.id == f"{world.rg_id}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert authz.role_assignments.get(world.rg_id, name).role_definition_id.endswith(READER_ID)
    assert authz.role_assignments.get_by_id(created.id).name == name
    with pytest.raises(ResourceExistsError) as dup:
        authz.role_assignments.create(world.rg_id, str(uuid.uuid4()), params)
    assert dup.value.error.code == "RoleAssignmentExists"
    assert authz.role_assignments.delete(world.rg_id, name).name == name
    assert authz.role_assignments.delete(world.rg_id, name) is None  # 204
    with pytest.raises(ResourceNotFoundError):
        authz.role_assignments.get(world.rg_id, name)
    by_id = authz.role_assignments.create_by_id(created.id, params)
    assert by_id.name == name
    assert authz.role_assignments.delete_by_id(created.id).name == name


def test_role_assignment_put_validation(world: World) -> None:
    authz = world.authz()
    with pytest.raises(HttpResponseError) as err:
        authz.role_assignments.create(world.rg_id, str(uuid.uuid4()), {
            "role_definition_id": f"/providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}",
            "principal_id": world.reader.object_id})
    assert err.value.status_code == 400 and err.value.error.code == "RoleDefinitionDoesNotExist"
    ghost = str(uuid.uuid4())
    rd = f"/providers/Microsoft.Authorization/roleDefinitions/{READER_ID}"
    with pytest.raises(HttpResponseError) as err:
        authz.role_assignments.create(world.rg_id, str(uuid.uuid4()),
                                      {"role_definition_id": rd, "principal_id": ghost})
    assert err.value.status_code == 400 and err.value.error.code == "PrincipalNotFound"
    # principalType skips the directory lookup (replication-delay workaround)
    ok = authz.role_assignments.create(world.rg_id, str(uuid.uuid4()), {
        "role_definition_id": rd, "principal_id": ghost, "principal_type": "Group"})
    assert ok.principal_type == "Group"
    authz.role_assignments.delete_by_id(ok.id)
    with pytest.raises(HttpResponseError) as err:
        world.authz(world.reader).role_assignments.create(
            world.rg_id, str(uuid.uuid4()), {"role_definition_id": rd, "principal_id": ghost,
                                             "principal_type": "Group"})
    assert err.value.status_code == 403
    assert "Microsoft.Authorization/roleAssignments/write" in err.value.message


def test_role_assignment_lists_and_filters(world: World, small_pages: None) -> None:
    authz = world.authz()
    rg_reader = world.rg_reader.object_id
    cluster = f"{world.rg_id}/providers/Microsoft.ContainerService/managedClusters/aks-wi"
    below = world.lab.azure.add_role_assignment(cluster, "Contributor", rg_reader)
    try:
        ids = lambda it: {a.id for a in it}  # noqa: E731
        at_rg = ids(authz.role_assignments.list_for_scope(world.rg_id, filter="atScope()"))
        subs_level = {a.id for a in world.lab.azure.role_assignments.values()
                      if a.scope.lower() == world.sub_id.lower()}
        assert subs_level <= at_rg and below.id not in at_rg
        everything = ids(authz.role_assignments.list_for_resource_group(RG))
        assert below.id in everything and subs_level <= everything
        for f in (f"principalId eq '{rg_reader}'", f"principalId eq {rg_reader}",
                  f"assignedTo('{rg_reader}')"):
            found = list(authz.role_assignments.list_for_scope(world.sub_id, filter=f))
            assert {a.principal_id for a in found} == {rg_reader} and len(found) == 2, f
        combined = list(authz.role_assignments.list_for_scope(
            cluster, filter=f"atScope() and assignedTo('{rg_reader}')"))
        assert len(combined) == 2
        assert ids(authz.role_assignments.list_for_resource(
            RG, "Microsoft.ContainerService", "managedClusters", "aks-wi",
            filter="atScope()")) >= {below.id}
        pages = list(authz.role_assignments.list_for_subscription().by_page())
        assert len(pages) >= 3
        with pytest.raises(HttpResponseError) as err:
            list(authz.role_assignments.list_for_scope(world.sub_id, filter="bogus eq 1"))
        assert err.value.status_code == 400
    finally:
        del world.lab.azure.role_assignments[below.name.lower()]


# ------------------------------------------------------------------------------------------ role definitions
def test_role_definitions(world: World) -> None:
    rds = world.authz().role_definitions
    at_sub = rds.get(world.sub_id, READER_ID)
    assert at_sub.role_name == "Reader" and at_sub.role_type == "BuiltInRole"
    assert at_sub.id == f"{world.sub_id}/providers/Microsoft.Authorization/roleDefinitions/{READER_ID}"
    assert rds.get_by_id(at_sub.id).permissions[0].actions == ["*/read"]
    owner = rds.get_by_id(f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER_ID}")
    assert owner.role_name == "Owner"
    contributor = rds.list(world.sub_id, filter="roleName eq 'Contributor'")
    assert [r.role_name for r in contributor] == ["Contributor"]
    builtins = [r.role_name for r in rds.list(world.rg_id, filter="type eq 'BuiltInRole'")]
    assert {"Reader", "Owner", "Key Vault Secrets User"} <= set(builtins)
    with pytest.raises(ResourceNotFoundError) as err:
        rds.get(world.sub_id, str(uuid.uuid4()))
    assert err.value.error.code == "RoleDefinitionDoesNotExist"


# ------------------------------------------------------------------------------------------ permissions
def test_permissions_endpoints(world: World) -> None:
    perms = world.authz(world.rg_reader).permissions
    assert [p.actions for p in perms.list_for_resource_group(RG)] == [["*/read"]]
    on_cluster = perms.list_for_resource(RG, "Microsoft.ContainerService", "", "managedClusters", "aks-wi")
    assert [p.actions for p in on_cluster] == [["*/read"]]
    with pytest.raises(HttpResponseError) as err:
        list(perms.list_for_resource_group(OTHER_RG))
    assert err.value.status_code == 403
    owner_perms = list(world.authz().permissions.list_for_resource_group(RG))
    assert owner_perms[0].actions == ["*"] and owner_perms[0].data_actions == []
    # subscription level: not in the SDK, sent through the client's pipeline
    client = world.authz(world.reader)
    request = HttpRequest("GET", f"{world.lab.arm.url}{world.sub_id}/providers/"
                                 "Microsoft.Authorization/permissions?api-version=2022-04-01")
    response = client._client.send_request(request)
    assert response.status_code == 200
    assert response.json()["value"] == [{"actions": ["*/read"], "notActions": [], "dataActions": [],
                                         "notDataActions": []}]


# ------------------------------------------------------------------------------------------ faults, admin
def test_retry_on_429_honours_retry_after(world: World) -> None:
    prefix = f"/subscriptions/{world.sub}/resourceGroups/{RG}/providers/Microsoft.ContainerService"
    world.lab.arm.faults.fail_next(prefix, 1, 429, retry_after=1)
    aks = world.aks(retry_total=3, retry_backoff_factor=0.01)
    start = time.monotonic()
    assert aks.managed_clusters.get(RG, "aks-wi").name == "aks-wi"
    assert time.monotonic() - start >= 0.9


def test_faults_beyond_the_retry_policy_surface(world: World) -> None:
    prefix = f"/subscriptions/{world.sub}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity"
    world.lab.arm.faults.fail_next(prefix, 3, 500, retry_after=None)
    try:
        with pytest.raises(HttpResponseError) as err:
            world.msi(retry_total=1, retry_backoff_factor=0.01).user_assigned_identities.get(RG, "x")
        assert err.value.status_code == 500
    finally:
        world.lab.arm.faults.clear()


def test_admin_state_faults_and_seed(world: World) -> None:
    base, verify = world.lab.arm.url, str(world.lab.ca_file)
    state = requests.get(f"{base}/_lab/state", verify=verify, timeout=10)
    assert state.status_code == 200
    body = state.json()
    assert body["servers"]["arm"] == base
    assert world.sub in {s["subscriptionId"] for s in body["subscriptions"]}
    assert any(c["issuerURL"] == world.issuer for c in body["clusters"])
    assert world.operator.secret not in state.text and "secret" not in state.text.lower()

    seeded = requests.post(f"{base}/_lab/seed", verify=verify, timeout=10, json={
        "resource_group": {"subscription_id": world.sub, "name": "rg-seeded"},
        "identity": {"subscription_id": world.sub, "resource_group": "rg-seeded", "name": "id-seeded"},
        "fic": {"subscription_id": world.sub, "resource_group": "rg-seeded", "identity": "id-seeded",
                "name": "web", "issuer": world.issuer, "subject": SUBJECT},
        "role_assignment": {"scope": f"{world.sub_id}/resourceGroups/rg-seeded", "role": "Reader",
                            "principal_id": world.nobody.object_id},
    })
    assert seeded.status_code == 201, seeded.text
    assert world.msi().federated_identity_credentials.get("rg-seeded", "id-seeded", "web").subject == SUBJECT
    assert [c.name for c in world.aks(world.nobody).managed_clusters.list()] == []
    bad = requests.post(f"{base}/_lab/seed", json={"planet": {}}, verify=verify, timeout=10)
    assert bad.status_code == 400

    r = requests.post(f"{base}/_lab/faults", verify=verify, timeout=10, json={
        "server": "arm", "fail_next": {"prefix": "/subscriptions", "count": 1, "status": 429,
                                       "retry_after": 1}})
    assert r.json() == {"servers": ["arm"]}
    throttled = world.raw("GET", world.sub_id, **{"api-version": "2022-12-01"})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert world.raw("GET", world.sub_id, **{"api-version": "2022-12-01"}).status_code == 200
    requests.post(f"{base}/_lab/faults", json={"server": "arm", "latency": 0.2}, verify=verify, timeout=10)
    start = time.monotonic()
    world.raw("GET", world.sub_id, **{"api-version": "2022-12-01"})
    assert time.monotonic() - start >= 0.2
    requests.post(f"{base}/_lab/faults", json={"clear": True}, verify=verify, timeout=10)
    assert world.lab.arm.faults.latency == 0


def test_admin_propagation_knobs(world: World) -> None:
    base, verify = world.lab.arm.url, str(world.lab.ca_file)
    ident = world.lab.azure.add_identity(world.sub, RG, f"id-{uuid.uuid4().hex[:6]}")
    world.lab.azure.add_fic(ident, "web", world.issuer, SUBJECT)

    def faults(body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{base}/_lab/faults", json=body, verify=verify, timeout=10)

    assert faults({"refuse_next": {"identity": ident.client_id, "fic": "web", "count": 2,
                                   "code": 70021}}).status_code == 200
    assert faults({"fic_propagation": {"seconds": 90, "seed": 3}}).status_code == 200
    knobs = requests.get(f"{base}/_lab/state", verify=verify, timeout=10).json()["knobs"]
    assert knobs["fic_propagation_seconds"] == 90
    assert knobs["fic_refusals"] == {f"{ident.id.lower()}/web": {"count": 2, "code": 70021}}
    assert faults({"refuse_next": {"identity": ident.id, "fic": "nope"}}).status_code == 400
    assert faults({"refuse_next": {"identity": ident.id, "code": 700213}}).status_code == 400
    assert faults({"refuse_next": {"identity": "no-such-identity"}}).status_code == 400
    faults({"clear": True})
    assert world.lab.azure.refusals == {} and world.lab.azure.fic_propagation_seconds == 0
