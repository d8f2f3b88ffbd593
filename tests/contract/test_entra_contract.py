"""The lab's Entra answers in the shapes of shared/contracts/synthesized/entra-token-responses.json.

Raw HTTP (requests), so the wire format itself is checked, not what a client library makes of it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from support import contract_file
from wi_cli.lab.azure_state import ServicePrincipal, UserAssignedIdentity
from wi_cli.lab.entra.aadsts import AADSTS
from wi_cli.lab.entra.federation import CLIENT_ASSERTION_TYPE
from wi_cli.lab.keys import SigningKey
from wi_cli.lab.runtime import Lab

SUBJECT = "system:serviceaccount:apps:web"
# what MSAL reads from the tenant discovery document (msal/authority.py, application.py)
MSAL_DISCOVERY_KEYS = ("authorization_endpoint", "token_endpoint", "issuer",
                       "device_authorization_endpoint")


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return json.loads(contract_file("synthesized/entra-token-responses.json").read_text())


@dataclass
class World:
    lab: Lab
    tenant: str
    operator: ServicePrincipal
    identity: UserAssignedIdentity
    key: SigningKey
    issuer: str

    def post_token(self, form: dict[str, str], tenant: str | None = None,
                   headers: dict[str, str] | None = None) -> requests.Response:
        return requests.post(f"{self.lab.entra.url}/{tenant or self.tenant}/oauth2/v2.0/token",
                             data=form, headers=headers, verify=str(self.lab.ca_file), timeout=10)

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(self.lab.entra.url + path, params=params,
                            verify=str(self.lab.ca_file), timeout=10)

    def secret_form(self, **overrides: str) -> dict[str, str]:
        form = {"grant_type": "client_credentials", "client_id": self.operator.client_id,
                "client_secret": str(self.operator.secret),
                "scope": self.lab.arm_audience + "/.default"}
        form.update(overrides)
        return {k: v for k, v in form.items() if v != ""}

    def assertion_form(self, claims: dict[str, Any] | None = None, *, client_id: str | None = None,
                       assertion: str | None = None) -> dict[str, str]:
        return {"grant_type": "client_credentials",
                "client_id": client_id or self.identity.client_id,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion or self.key.sign(claims or self.claims()),
                "scope": self.lab.arm_audience + "/.default"}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": SUBJECT,
                                  "aud": ["api://AzureADTokenExchange"],
                                  "iat": now, "nbf": now, "exp": now + 3600}
        claims.update(overrides)
        return claims


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Lab() as lab:
        tenant = lab.azure.add_tenant()
        sub = lab.azure.add_subscription(tenant)
        operator = lab.azure.add_service_principal(tenant)
        identity = lab.azure.add_identity(sub.subscription_id, "rg-wi", "id-web")
        key = SigningKey()
        issuer = lab.oidc.register(f"{tenant}/{uuid.uuid4()}", lambda: [key])
        lab.azure.add_fic(identity, "web", issuer, SUBJECT)
        yield World(lab, tenant, operator, identity, key, issuer)


def json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}[type(value)]


def template_value_type(value: Any) -> str:
    """The JSON type a template placeholder stands for ("{code:int}" is a number)."""
    if isinstance(value, str) and value.endswith(":int}"):
        return "number"
    return json_type(value)


def assert_same_shape(body: dict[str, Any], template: dict[str, Any]) -> None:
    for key, expected in template.items():
        assert key in body, f"missing key {key!r}"
        assert json_type(body[key]) == template_value_type(expected), key
        if isinstance(expected, list) and expected:
            assert all(json_type(item) == template_value_type(expected[0])
                       for item in body[key]), key


# Observed texts that continue where the synthesized contract stops: the real 90002 adds "Check
# with your subscription administrator, ..." (Azure/azure-cli#22145; ../shared/real-behaviour.md,
# C-codes). For these the contract's text is the start of the lab's.
LONGER_THAN_CONTRACT = {"90002"}


def description_pattern(template: str, prefix: bool = False) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]*\}", template)
    return re.compile(".+?".join(re.escape(p) for p in parts) + ("" if prefix else r"\Z"),
                      re.DOTALL)


# -- success ------------------------------------------------------------------------------------
def test_success_body_has_template_keys_and_types(world: World, contract: dict[str, Any]) -> None:
    reply = world.post_token(world.secret_form())
    expected = contract["success_client_credentials"]
    assert reply.status_code == expected["status"]
    body = reply.json()
    assert_same_shape(body, expected["body"])
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert reply.headers["Content-Type"].startswith("application/json")


def test_federated_success_body_has_template_keys(world: World, contract: dict[str, Any]) -> None:
    reply = world.post_token(world.assertion_form())
    assert reply.status_code == 200, reply.text
    assert_same_shape(reply.json(), contract["success_client_credentials"]["body"])


# -- errors: every code of the contract, produced over the wire ---------------------------------
def _broken_issuer_form(w: World) -> dict[str, str]:
    key = SigningKey()
    issuer = w.lab.oidc.register(f"{w.tenant}/{uuid.uuid4()}", lambda: [key])
    ident = w.lab.azure.add_identity(w.identity.subscription_id, "rg-wi", f"id-{uuid.uuid4().hex}")
    w.lab.azure.add_fic(ident, "web", issuer, SUBJECT)
    w.lab.oidc.break_issuer(issuer, 500)
    return w.assertion_form(w.claims(iss=issuer), client_id=ident.client_id)


def _fresh_fic_form(w: World) -> dict[str, str]:
    """A credential Entra does not see yet, answered with the legacy code its doc names."""
    ident = w.lab.azure.add_identity(w.identity.subscription_id, "rg-wi", f"id-{uuid.uuid4().hex}")
    w.lab.azure.add_fic(ident, "web", w.issuer, SUBJECT)
    w.lab.azure.refuse_next(ident, 1, code=70021)
    return w.assertion_form(client_id=ident.client_id)


ERROR_REQUESTS: dict[str, Callable[[World], dict[str, str]]] = {
    "90002": lambda w: w.secret_form() | {"_tenant": str(uuid.uuid4())},
    "900144": lambda w: w.secret_form(scope=""),
    "70011": lambda w: w.secret_form(scope="https://management.azure.com/.default "
                                           "https://vault.azure.net/.default"),
    "700016": lambda w: w.secret_form(client_id=str(uuid.uuid4())),
    "7000215": lambda w: w.secret_form(client_secret="wrong"),
    "50027": lambda w: w.assertion_form(assertion="a.b"),
    "700211": lambda w: w.assertion_form(w.claims(iss=w.issuer.rstrip("/"))),
    "700212": lambda w: w.assertion_form(w.claims(aud="api://other")),
    "700213": lambda w: w.assertion_form(w.claims(sub=SUBJECT + "-other")),
    "700024": lambda w: w.assertion_form(w.claims(exp=int(time.time()) - 3600,
                                                  iat=int(time.time()) - 7200)),
    "50166": _broken_issuer_form,
    "70021": _fresh_fic_form,
}


@pytest.mark.parametrize("code", sorted(ERROR_REQUESTS))
def test_error_matches_contract(world: World, contract: dict[str, Any], code: str) -> None:
    form = ERROR_REQUESTS[code](world)
    tenant = form.pop("_tenant", None)
    correlation = str(uuid.uuid4())
    reply = world.post_token(form, tenant, headers={"client-request-id": correlation})
    expected = contract["errors"][code]
    body = reply.json()
    assert reply.status_code == expected["status"], body
    assert body["error"] == expected["error"]
    assert body["error_codes"] == [int(code)]
    assert_same_shape(body, contract["error_body_template"])
    text, _, trailer = body["error_description"].partition("\r\nTrace ID: ")
    assert description_pattern(expected["description"],
                               prefix=str(code) in LONGER_THAN_CONTRACT).match(text), text
    assert trailer == (f"{body['trace_id']}\r\nCorrelation ID: {correlation}\r\n"
                       f"Timestamp: {body['timestamp']}")
    assert body["correlation_id"] == correlation
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["error_uri"] == f"{world.lab.entra.url}/error?code={code}"


def test_every_contract_code_is_exercised(contract: dict[str, Any]) -> None:
    assert set(contract["errors"]) <= set(ERROR_REQUESTS)


def test_aadsts_table_agrees_with_contract(contract: dict[str, Any]) -> None:
    for code, expected in contract["errors"].items():
        entry = AADSTS[int(code)]
        assert (entry.status, entry.error) == (expected["status"], expected["error"]), code
        lab = f"AADSTS{code}: {entry.template}"
        if code in LONGER_THAN_CONTRACT:
            assert lab.startswith(expected["description"]), code
        else:
            assert lab == expected["description"], code


@pytest.mark.parametrize("code,form", [
    (70003, {"grant_type": "password", "client_id": "x", "scope": "https://vault.azure.net/.default"}),
    (7000218, {"grant_type": "client_credentials", "client_id": "x",
               "scope": "https://vault.azure.net/.default"}),
    (500011, {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y",
              "scope": "https://unknown.example/.default"}),
])
def test_lab_only_codes_use_their_table_entry(world: World, code: int,
                                              form: dict[str, str]) -> None:
    reply = world.post_token(form)
    body = reply.json()
    assert (reply.status_code, body["error"], body["error_codes"]) == (
        AADSTS[code].status, AADSTS[code].error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")


# codes the contract file predates, with the texts observed in public reports
OBSERVED: dict[int, tuple[Callable[[World], dict[str, str]], str]] = {
    # Azure/login#515
    7002138: (lambda w: w.assertion_form(w.claims(sub=SUBJECT.upper())),
              f"AADSTS7002138: No matching federated identity record found for presented "
              f"assertion subject '{SUBJECT.upper()}'. The subject matches with case-insensitive "
              "comparison, but not with case-sensitive comparison."),
    # Azure/azure-workload-identity#1232
    7000272: (lambda w: w.assertion_form(assertion=SigningKey(kid="stray").sign(w.claims())),
              "AADSTS7000272: The certificate with identifier stray used to sign the federated "
              "credential could not be found in the metadata of identity provider {iss}. Please "
              "validate that your Identity Provider's metadata exposes the key used to sign the "
              "incoming token."),
    # MicrosoftDocs/azure-docs#99862
    1002012: (lambda w: w.secret_form(scope="https://management.azure.com/user_impersonation"),
              "AADSTS1002012: The provided value for scope https://management.azure.com/"
              "user_impersonation is not valid. Client credential flows must have a scope value "
              "with /.default suffixed to the resource identifier (application ID URI)."),
}


@pytest.mark.parametrize("code", sorted(OBSERVED))
def test_observed_codes_have_their_observed_text(world: World, code: int) -> None:
    build, text = OBSERVED[code]
    reply = world.post_token(build(world))
    body = reply.json()
    assert (reply.status_code, body["error"], body["error_codes"]) == (
        AADSTS[code].status, AADSTS[code].error, [code])
    assert (reply.status_code, body["error"]) == ((401, "invalid_client") if code != 1002012
                                                  else (400, "invalid_scope"))
    assert body["error_description"].split("\r\nTrace ID: ")[0] == text.replace("{iss}",
                                                                                world.issuer)


def test_double_slash_scope_means_resource_with_trailing_slash(world: World) -> None:
    """Azure CLI style: audiences[0] + "/.default" -> "https://host//.default"."""
    scope = world.lab.arm_audience + "/.default"
    assert "//.default" in scope
    token = world.post_token(world.secret_form(scope=scope)).json()["access_token"]
    assert world.lab.entra_key.verify(token)["aud"] == world.lab.arm_audience


def test_client_secret_basic_is_accepted(world: World) -> None:
    form = world.secret_form()
    auth = (form.pop("client_id"), form.pop("client_secret"))
    reply = requests.post(f"{world.lab.entra.url}/{world.tenant}/oauth2/v2.0/token", data=form,
                          auth=auth, verify=str(world.lab.ca_file), timeout=10)
    assert reply.status_code == 200, reply.text
    assert world.lab.entra_key.verify(reply.json()["access_token"])["appid"] == auth[0]


# -- discovery ----------------------------------------------------------------------------------
def test_discovery_has_what_msal_reads(world: World) -> None:
    reply = world.get(f"/{world.tenant}/v2.0/.well-known/openid-configuration")
    assert reply.status_code == 200
    doc = reply.json()
    for key in MSAL_DISCOVERY_KEYS + ("jwks_uri", "response_modes_supported",
                                      "subject_types_supported",
                                      "id_token_signing_alg_values_supported",
                                      "scopes_supported", "claims_supported",
                                      "tenant_region_scope", "cloud_instance_name"):
        assert key in doc, key
    base = world.lab.entra.url
    assert doc["issuer"] == f"{base}/{world.tenant}/v2.0"
    assert doc["token_endpoint"] == f"{base}/{world.tenant}/oauth2/v2.0/token"
    assert doc["jwks_uri"] == f"{base}/{world.tenant}/discovery/v2.0/keys"


def test_jwks_serves_the_entra_signing_key(world: World) -> None:
    doc = world.get(f"/{world.tenant}/v2.0/.well-known/openid-configuration").json()
    keys = requests.get(doc["jwks_uri"], verify=str(world.lab.ca_file), timeout=10).json()["keys"]
    assert [k["kid"] for k in keys] == [world.lab.entra_key.kid]
    assert {"kty", "use", "kid", "n", "e"} <= set(keys[0])


def test_discovery_for_unknown_tenant_is_400_invalid_tenant(world: World) -> None:
    reply = world.get(f"/{uuid.uuid4()}/v2.0/.well-known/openid-configuration")
    assert reply.status_code == 400
    body = reply.json()
    assert body["error"] == "invalid_tenant" and body["error_codes"] == [90002]


def test_instance_discovery_knows_only_the_lab_host(world: World) -> None:
    authorize = f"{world.lab.entra.url}/{world.tenant}/oauth2/v2.0/authorize"
    doc = world.get("/common/discovery/instance", **{"api-version": "1.0",
                                                     "authorization_endpoint": authorize}).json()
    assert doc["tenant_discovery_endpoint"] == (
        f"{world.lab.entra.url}/{world.tenant}/v2.0/.well-known/openid-configuration")
    host = world.lab.entra.url.removeprefix("https://")
    assert doc["metadata"][0]["aliases"] == [host]
    other = world.get("/common/discovery/instance", **{
        "api-version": "1.0",
        "authorization_endpoint": "https://login.example.com/x/oauth2/v2.0/authorize"})
    assert other.status_code == 400 and other.json()["error"] == "invalid_instance"


def test_v1_discovery_names_the_sts_issuer(world: World) -> None:
    doc = world.get(f"/{world.tenant}/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"https://sts.windows.net/{world.tenant}/"
    assert doc["token_endpoint"] == f"{world.lab.entra.url}/{world.tenant}/oauth2/token"
