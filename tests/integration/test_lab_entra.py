"""The lab's Entra ID, driven by azure-identity's real credentials.

Every failure case is a real token exchange against a deliberately broken setup, asserted by the
AADSTS code in the exception azure-identity raises.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential, WorkloadIdentityCredential

from wi_cli.lab.azure_state import ServicePrincipal, UserAssignedIdentity
from wi_cli.lab.keys import SigningKey
from wi_cli.lab.runtime import Lab

EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
SUBJECT = "system:serviceaccount:apps:web"


@dataclass
class World:
    lab: Lab
    tenant: str
    subscription: str
    operator: ServicePrincipal
    identity: UserAssignedIdentity
    issuer_key: SigningKey
    issuer: str  # ends in "/", like AKS's

    @property
    def arm_scope(self) -> str:
        return self.lab.arm_audience + "/.default"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Lab() as lab:
        tenant = lab.azure.add_tenant()
        sub = lab.azure.add_subscription(tenant)
        lab.azure.add_resource_group(sub.subscription_id, "rg-wi")
        operator = lab.azure.add_service_principal(tenant, "wi-operator")
        identity = lab.azure.add_identity(sub.subscription_id, "rg-wi", "id-web")
        key = SigningKey()
        issuer = lab.oidc.register(f"{tenant}/{uuid.uuid4()}", lambda: [key])
        lab.azure.add_fic(identity, "web", issuer, SUBJECT)
        yield World(lab, tenant, sub.subscription_id, operator, identity, key, issuer)


def projected_token_claims(issuer: str, *, subject: str = SUBJECT,
                           audience: str = EXCHANGE_AUDIENCE, lifetime: int = 3600,
                           issued_at: int | None = None) -> dict[str, Any]:
    """Claims shaped like a kubelet-projected service-account token."""
    now = int(time.time()) if issued_at is None else issued_at
    namespace, name = subject.split(":")[2:4]
    return {
        "aud": [audience], "iss": issuer, "sub": subject,
        "iat": now, "nbf": now, "exp": now + lifetime,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": str(uuid.uuid4())},
            "pod": {"name": f"{name}-0", "uid": str(uuid.uuid4())},
        },
    }


def new_identity(w: World, name: str) -> UserAssignedIdentity:
    return w.lab.azure.add_identity(w.subscription, "rg-wi", name)


def workload_credential(w: World, tmp_path: Path, client_id: str, token: str,
                        tenant: str | None = None) -> WorkloadIdentityCredential:
    token_file = tmp_path / f"token-{uuid.uuid4().hex}"
    token_file.write_text(token)
    return WorkloadIdentityCredential(
        tenant_id=tenant or w.tenant, client_id=client_id, token_file_path=str(token_file),
        authority=w.lab.authority_host, connection_verify=str(w.lab.ca_file),
    )


def exchange(w: World, tmp_path: Path, client_id: str, token: str, scope: str | None = None) -> str:
    credential = workload_credential(w, tmp_path, client_id, token)
    return credential.get_token(scope or w.arm_scope).token


def exchange_error(w: World, tmp_path: Path, client_id: str, token: str) -> str:
    with pytest.raises(ClientAuthenticationError) as info:
        exchange(w, tmp_path, client_id, token)
    return str(info.value)


def unverified(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


# -- client secret (MSAL underneath) ------------------------------------------------------------
def secret_credential(w: World, *, tenant: str | None = None,
                      secret: str | None = None) -> ClientSecretCredential:
    return ClientSecretCredential(
        tenant or w.tenant, w.operator.client_id, secret or str(w.operator.secret),
        authority=w.lab.authority_host, disable_instance_discovery=True,
        connection_verify=str(w.lab.ca_file),
    )


def test_client_secret_gets_arm_token(world: World) -> None:
    access = secret_credential(world).get_token(world.arm_scope)
    claims = unverified(access.token)
    assert claims["aud"] == world.lab.arm_audience  # the resource as requested, "//.default" cut
    assert claims["iss"] == f"https://sts.windows.net/{world.tenant}/"
    assert claims["oid"] == world.operator.object_id
    assert claims["tid"] == world.tenant
    assert claims["appid"] == world.operator.client_id
    assert claims["idtyp"] == "app"
    assert "xms_mirid" not in claims
    assert access.expires_on > time.time() + 3000
    world.lab.entra_key.verify(access.token)  # signed by the lab's Entra key


def test_client_secret_token_for_key_vault(world: World) -> None:
    access = secret_credential(world).get_token("https://vault.azure.net/.default")
    assert unverified(access.token)["aud"] == "https://vault.azure.net"


def test_wrong_secret_is_7000215(world: World) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        secret_credential(world, secret="not-the-secret").get_token(world.arm_scope)


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def test_unknown_tenant_is_90002_for_msal(world: World) -> None:
    # MSAL fails at OIDC discovery and keeps Entra's 400 body only in the chained ValueError
    with pytest.raises(ClientAuthenticationError, match="Unable to get authority configuration") \
            as info:
        secret_credential(world, tenant=str(uuid.uuid4())).get_token(world.arm_scope)
    causes = [str(e) for e in exception_chain(info.value)]
    assert any("HTTP status: 400" in c and "AADSTS90002" in c and "invalid_tenant" in c
               for c in causes)


def test_unknown_resource_is_500011(world: World) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS500011"):
        secret_credential(world).get_token("https://nothing.example/.default")


def test_scope_without_default_is_1002012(world: World) -> None:
    # MicrosoftDocs/azure-docs#99862
    with pytest.raises(ClientAuthenticationError, match="AADSTS1002012") as info:
        secret_credential(world).get_token("https://management.azure.com/user_impersonation")
    assert "must have a scope value with /.default suffixed" in str(info.value)


def test_two_resources_in_one_request_is_70011(world: World) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS70011"):
        secret_credential(world).get_token("https://management.azure.com/.default",
                                           "https://vault.azure.net/.default")


# -- federated assertion (WorkloadIdentityCredential, no MSAL) ---------------------------------
def test_workload_identity_exchange_succeeds(world: World, tmp_path: Path) -> None:
    assertion = world.issuer_key.sign(projected_token_claims(world.issuer))
    claims = unverified(exchange(world, tmp_path, world.identity.client_id, assertion))
    assert claims["oid"] == world.identity.principal_id
    assert claims["appid"] == world.identity.client_id
    assert claims["tid"] == world.tenant
    assert claims["aud"] == world.lab.arm_audience
    assert claims["xms_mirid"].lower() == world.identity.id.lower()
    assert "/resourcegroups/" in claims["xms_mirid"]


def test_unknown_tenant_is_90002_at_token_endpoint(world: World, tmp_path: Path) -> None:
    assertion = world.issuer_key.sign(projected_token_claims(world.issuer))
    credential = workload_credential(world, tmp_path, world.identity.client_id, assertion,
                                     tenant=str(uuid.uuid4()))
    with pytest.raises(ClientAuthenticationError, match="AADSTS90002"):
        credential.get_token(world.arm_scope)


def test_a_verified_domain_names_the_tenant_like_its_guid(world: World, tmp_path: Path) -> None:
    """The tenant may be given "in GUID or domain-name format" (entra-docs
    v2-oauth2-client-creds-grant-flow): MSAL's discovery and the federated exchange both work."""
    domain = world.lab.azure.tenant_domain(world.tenant)
    assert domain.endswith(".onmicrosoft.com")
    access = secret_credential(world, tenant=domain).get_token(world.arm_scope)
    assert unverified(access.token)["tid"] == world.tenant
    assertion = world.issuer_key.sign(projected_token_claims(world.issuer))
    token = workload_credential(world, tmp_path, world.identity.client_id, assertion,
                                tenant=domain.upper()).get_token(world.arm_scope).token
    assert unverified(token)["tid"] == world.tenant
    with pytest.raises(ClientAuthenticationError, match="AADSTS90002"):
        workload_credential(world, tmp_path, world.identity.client_id, assertion,
                            tenant="nobody.onmicrosoft.com").get_token(world.arm_scope)


def test_unknown_client_id_is_700016(world: World, tmp_path: Path) -> None:
    assertion = world.issuer_key.sign(projected_token_claims(world.issuer))
    # the principal id instead of the client id: a classic mistake
    assert "AADSTS700016" in exchange_error(world, tmp_path, world.identity.principal_id,
                                            assertion)


def test_identity_without_fics_is_70025(world: World, tmp_path: Path) -> None:
    bare = new_identity(world, "id-no-fics")
    assertion = world.issuer_key.sign(projected_token_claims(world.issuer))
    message = exchange_error(world, tmp_path, bare.client_id, assertion)
    assert "AADSTS70025" in message and bare.client_id in message


def test_issuer_without_trailing_slash_is_700211(world: World, tmp_path: Path) -> None:
    ident = new_identity(world, "id-issuer-noslash")
    world.lab.azure.add_fic(ident, "web", world.issuer.rstrip("/"), SUBJECT)
    assertion = world.issuer_key.sign(projected_token_claims(world.issuer))
    message = exchange_error(world, tmp_path, ident.client_id, assertion)
    assert "AADSTS700211" in message and f"issuer '{world.issuer}'" in message


def test_subject_case_mismatch_is_7002138(world: World, tmp_path: Path) -> None:
    ident = new_identity(world, "id-subject-case")
    world.lab.azure.add_fic(ident, "web", world.issuer, "system:serviceaccount:Apps:web")
    assertion = world.issuer_key.sign(projected_token_claims(world.issuer))
    message = exchange_error(world, tmp_path, ident.client_id, assertion)
    assert "AADSTS7002138" in message and f"subject '{SUBJECT}'" in message
    assert "matches with case-insensitive comparison, but not with case-sensitive" in message


def test_another_subject_is_still_700213(world: World, tmp_path: Path) -> None:
    ident = new_identity(world, "id-subject-other")
    world.lab.azure.add_fic(ident, "web", world.issuer, "system:serviceaccount:apps:api")
    assertion = world.issuer_key.sign(projected_token_claims(world.issuer))
    message = exchange_error(world, tmp_path, ident.client_id, assertion)
    assert "AADSTS700213" in message and "case-insensitive" not in message


def test_audience_mismatch_is_700212(world: World, tmp_path: Path) -> None:
    assertion = world.issuer_key.sign(
        projected_token_claims(world.issuer, audience="api://AzureADTokenExchangeChina"))
    message = exchange_error(world, tmp_path, world.identity.client_id, assertion)
    assert "AADSTS700212" in message and "api://AzureADTokenExchangeChina" in message


def test_unreachable_issuer_is_50166(world: World, tmp_path: Path) -> None:
    key = SigningKey()
    issuer = world.lab.oidc.register(f"{world.tenant}/{uuid.uuid4()}", lambda: [key])
    ident = new_identity(world, "id-broken-issuer")
    world.lab.azure.add_fic(ident, "web", issuer, SUBJECT)
    assertion = key.sign(projected_token_claims(issuer))
    world.lab.oidc.break_issuer(issuer, 404)
    try:
        assert "AADSTS50166" in exchange_error(world, tmp_path, ident.client_id, assertion)
    finally:
        world.lab.oidc.repair_issuer(issuer)
    exchange(world, tmp_path, ident.client_id, assertion)  # repaired: works again, no stale cache


def test_key_not_in_jwks_is_7000272(world: World, tmp_path: Path) -> None:
    stranger = SigningKey()
    assertion = stranger.sign(projected_token_claims(world.issuer))
    message = exchange_error(world, tmp_path, world.identity.client_id, assertion)
    assert "AADSTS7000272" in message  # Azure/azure-workload-identity#1232
    assert (f"The certificate with identifier {stranger.kid} used to sign the federated "
            f"credential could not be found in the metadata of identity provider "
            f"{world.issuer}.") in message


def test_signature_by_other_key_with_same_kid_is_700027(world: World, tmp_path: Path) -> None:
    impostor = SigningKey(kid=world.issuer_key.kid)
    assertion = impostor.sign(projected_token_claims(world.issuer))
    assert "AADSTS700027" in exchange_error(world, tmp_path, world.identity.client_id, assertion)


def test_non_rs256_assertion_is_700027(world: World, tmp_path: Path) -> None:
    assertion = jwt.encode(projected_token_claims(world.issuer), "a-shared-secret-of-32-bytes!!!!!",
                           algorithm="HS256", headers={"kid": world.issuer_key.kid})
    assert "AADSTS700027" in exchange_error(world, tmp_path, world.identity.client_id, assertion)


def test_expired_assertion_is_700024(world: World, tmp_path: Path) -> None:
    stale = projected_token_claims(world.issuer, issued_at=int(time.time()) - 7200)
    message = exchange_error(world, tmp_path, world.identity.client_id,
                             world.issuer_key.sign(stale))
    assert "AADSTS700024" in message
    assert "Current time: " in message and "expiry time of assertion " in message


def test_assertion_within_clock_skew_is_accepted(world: World, tmp_path: Path) -> None:
    just_expired = projected_token_claims(world.issuer, issued_at=int(time.time()) - 3660)
    exchange(world, tmp_path, world.identity.client_id, world.issuer_key.sign(just_expired))


def test_too_long_lived_assertion_is_70023(world: World, tmp_path: Path) -> None:
    two_days = projected_token_claims(world.issuer, lifetime=2 * 86400)
    message = exchange_error(world, tmp_path, world.identity.client_id,
                             world.issuer_key.sign(two_days))
    assert "AADSTS70023" in message


def test_lifetime_is_checked_before_the_audience(world: World, tmp_path: Path) -> None:
    """The 1-year default token with the API server's audience: 70023, not 700212
    (Azure/azure-sdk-for-python#32124)."""
    default_token = projected_token_claims(world.issuer, audience=world.issuer.rstrip("/"),
                                           lifetime=365 * 86400)
    message = exchange_error(world, tmp_path, world.identity.client_id,
                             world.issuer_key.sign(default_token))
    assert "AADSTS70023" in message and "AADSTS700212" not in message


# -- propagation: what Entra answers for a credential it does not see yet ---------------------
def _fresh(w: World, name: str, *others: tuple[str, str]) -> tuple[UserAssignedIdentity, str]:
    """An identity whose FIC for SUBJECT is new, beside ``others`` (issuer, subject) FICs."""
    ident = new_identity(w, name)
    for i, (issuer, subject) in enumerate(others):
        w.lab.azure.add_fic(ident, f"old-{i}", issuer, subject)
    w.lab.azure.add_fic(ident, "new", w.issuer, SUBJECT)
    return ident, w.issuer_key.sign(projected_token_claims(w.issuer))


@pytest.mark.parametrize("code,others", [
    ("AADSTS70025", ()),  # the identity's only credential
    ("AADSTS700211", (("https://other-cluster.example/", SUBJECT),)),  # none shares the issuer
    ("AADSTS700213", ((None, "system:serviceaccount:apps:api"),)),  # same issuer, other subject
])
def test_unseen_credential_gets_what_entra_answers_without_it(world: World, tmp_path: Path,
                                                             code: str, others: tuple) -> None:
    others = tuple((issuer or world.issuer, subject) for issuer, subject in others)
    ident, assertion = _fresh(world, f"id-unseen-{code[6:]}", *others)
    world.lab.azure.refuse_next(ident, 2, fic="new")
    for _ in range(2):
        assert code in exchange_error(world, tmp_path, ident.client_id, assertion)
    exchange(world, tmp_path, ident.client_id, assertion)  # seen from the third exchange on


def test_refusals_are_only_used_up_by_exchanges_that_need_the_credential(
        world: World, tmp_path: Path) -> None:
    ident, assertion = _fresh(world, "id-unseen-other-sa")
    world.lab.azure.refuse_next(ident, 1)
    other = world.issuer_key.sign(projected_token_claims(world.issuer,
                                                         subject="system:serviceaccount:x:y"))
    assert "AADSTS700213" in exchange_error(world, tmp_path, ident.client_id, other)
    assert "AADSTS70025" in exchange_error(world, tmp_path, ident.client_id, assertion)
    exchange(world, tmp_path, ident.client_id, assertion)


def test_legacy_70021_can_be_asked_for(world: World, tmp_path: Path) -> None:
    """The Entra doc names AADSTS70021 for propagation (workload-identity-federation-
    considerations.md); modern answers are the specific codes."""
    ident, assertion = _fresh(world, "id-unseen-legacy")
    world.lab.azure.refuse_next(ident, 1, code=70021)
    message = exchange_error(world, tmp_path, ident.client_id, assertion)
    assert "AADSTS70021" in message and f"Assertion Subject: '{SUBJECT}'" in message
    exchange(world, tmp_path, ident.client_id, assertion)


def test_refusal_probability_thins_out_over_the_window() -> None:
    from wi_cli.lab.entra.propagation import refusal_probability

    chances = [refusal_probability(age, 300) for age in (0, 60, 150, 240, 299, 300, 900)]
    assert chances[0] == 1.0 and chances[-2:] == [0.0, 0.0]
    assert chances == sorted(chances, reverse=True) and 0 < chances[2] < 1
    assert refusal_probability(10, 0) == 0.0  # the knob off


def test_refusals_thin_out_as_the_credential_ages(world: World, tmp_path: Path) -> None:
    """A seeded draw: early in the window most exchanges are refused, late few, after none."""
    ident, assertion = _fresh(world, "id-aging")
    fic = ident.fics["new"]
    az = world.lab.azure
    az.fic_propagation_seconds = 1000
    az.propagation_rng.seed(12)
    refused = {}
    try:
        for age in (50, 900, 1200):
            fic.created_at = time.time() - age
            refused[age] = 0
            for _ in range(15):
                try:
                    exchange(world, tmp_path, ident.client_id, assertion)
                except ClientAuthenticationError as exc:
                    assert "AADSTS70025" in str(exc)
                    refused[age] += 1
    finally:
        az.fic_propagation_seconds = 0
    assert refused[50] >= 11 and refused[900] <= 5 and refused[1200] == 0, refused
    assert refused[50] > refused[900]


def test_garbage_assertion_is_50027(world: World, tmp_path: Path) -> None:
    assert "AADSTS50027" in exchange_error(world, tmp_path, world.identity.client_id,
                                           "this-is-not-a-jwt")


def test_entra_issued_token_as_assertion_is_700222(world: World, tmp_path: Path) -> None:
    entra_token = secret_credential(world).get_token(world.arm_scope).token
    assert "AADSTS700222" in exchange_error(world, tmp_path, world.identity.client_id,
                                            entra_token)
