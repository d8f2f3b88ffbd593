"""The live layer's checks on plain values: the claims of the token the API server minted, and
Entra's answer to exchanging it (recorded as the exchanges fact records it, propagation included,
with no retry and no sleep). Tokens are stand-ins; checkrun.audit checks none reaches a finding."""

from __future__ import annotations

from typing import Any

from checkrun import commands, covers, derive, one, run, seconds_after
from values import (
    AUDIENCE,
    CLIENT_ID,
    CLUSTER,
    ISSUER,
    KID,
    NO_AKS,
    NS,
    OTHER_CLIENT_ID,
    RG,
    SA,
    TENANT,
    accepted,
    aks,
    credential,
    exchanged,
    fics_for,
    identity,
    issuer_documents,
    minted,
    pod,
    refused,
    service_account,
)
from wi_cli.core.models import FederatedCredential, Finding, Status
from wi_cli.doctor.facts.cluster import IN_CLUSTER_ISSUER
from wi_cli.doctor.facts.identities import Binding
from wi_cli.doctor.facts.live import Exchange, Minted

BIND = f"wi bind {SA} id-app -n {NS}"


def bound(*, client_id: str = CLIENT_ID, **facts: Any) -> dict[str, Any]:
    return {"service_accounts": [service_account(client_id=client_id)],
            "pods": [pod(client_id=client_id)], "identities": [identity()], "aks": aks(),
            **facts}


def binding(facts: dict[str, Any]) -> Binding:
    (b,) = derive(facts)["bindings"]
    return b


def exchange(answer: Exchange, *credentials: FederatedCredential, fics: bool = True,
             **given: Any) -> Finding:
    """live.token-exchange for the bound service account, ARM showing ``credentials`` on its
    identity (``fics=False``: the credentials could not be read)."""
    facts = bound(**given)
    if fics:
        facts["fics"] = fics_for(identity(), *credentials)
    b = binding(facts)
    answer = exchanged(b, answer, list(credentials) if fics else None,
                       derive(facts)["cluster_issuer"].url or "")
    return one(run("live.token-exchange", minted_tokens={b.key: minted()},
                   exchanges={b.key: answer}, **facts))


# -- live.token-exchange --------------------------------------------------------------------------

@covers("live.token-exchange")
def test_entra_issues_an_access_token() -> None:
    facts = bound(fics=fics_for(identity(), credential()))
    b = binding(facts)
    f = one(run("live.token-exchange", minted_tokens={b.key: minted()},
                exchanges={b.key: accepted(b)}, **facts))
    assert f.status == Status.OK
    assert f.summary.startswith(f"{NS}/{SA}: Entra issued an ARM access token for it (appid="
                                f"{CLIENT_ID}, oid=")
    assert f.evidence.expected == {"appid": CLIENT_ID, "tid": TENANT}


def test_success_after_waiting_for_propagation_says_how_long() -> None:
    facts = bound()
    b = binding(facts)
    answer = accepted(b)
    answer.waited = 3.5
    f = one(run("live.token-exchange", minted_tokens={b.key: minted()},
                exchanges={b.key: answer}, **facts))
    assert "after waiting 3.5 s for the new credential to propagate" in f.summary


def test_no_tenant_known_is_a_skip_that_says_what_to_set() -> None:
    from wi_cli.doctor.facts.live import NO_TENANT, Exchange

    facts = bound()
    b = binding(facts)
    f = one(run("live.token-exchange", minted_tokens={b.key: minted()},
                exchanges={b.key: Exchange(None, message=NO_TENANT)}, **facts))
    assert f.status == Status.SKIP
    assert "doctor cannot tell which tenant the pod would use" in f.summary
    assert "AZURE_TENANT_ID" in f.summary and "authority host" not in f.summary


def test_token_the_api_server_would_not_mint() -> None:
    facts = bound()
    b = binding(facts)
    why = 'serviceaccounts "app" is forbidden: User "dev" cannot create resource ' \
          '"serviceaccounts/token"'
    f = one(run("live.token-exchange", minted_tokens={b.key: Minted(error=why)},
                exchanges={}, **facts))
    assert f.status == Status.FAIL and why in f.summary
    assert commands(f) == [f"kubectl auth can-i create serviceaccounts/token -n {NS}"]


@covers("live.token-exchange", 9)
def test_unknown_client_id_is_aadsts700016() -> None:
    f = exchange(refused("AADSTS700016", f"Application with identifier '{OTHER_CLIENT_ID}' was "
                                         f"not found in the directory '{TENANT}'"),
                 client_id=OTHER_CLIENT_ID)
    assert f.status == Status.FAIL
    assert "Entra refused the exchange with AADSTS700016" in f.summary
    assert "is not an application or managed identity in this tenant" in f.summary
    assert f"(wi bind {SA} IDENTITY -n {NS})" in f.remediation.text
    assert commands(f) == [f"wi bind {SA} IDENTITY -n {NS}"]


@covers("live.token-exchange", 10)
def test_identity_without_credentials_is_named() -> None:
    f = exchange(refused("AADSTS70025", f"The client '{CLIENT_ID}'(id-app) has no configured "
                                        "federated identity credentials"))
    assert f.status == Status.FAIL
    assert f.summary.endswith("AADSTS70025: identity id-app has no federated credentials.")
    assert BIND in f.remediation.text and commands(f) == [BIND]


@covers("live.token-exchange", 11)
def test_tenant_not_found() -> None:
    f = exchange(refused("AADSTS90002", "Tenant 'contoso.example' not found"),
                 credential())
    assert f.status == Status.FAIL and "does not exist in this cloud" in f.summary
    assert "tenant-id annotation" in f.remediation.text and commands(f) == []


@covers("live.token-exchange", 12)
def test_issuer_without_its_trailing_slash_is_named() -> None:
    f = exchange(refused("AADSTS700211", "No matching federated identity record found for "
                                         f"presented assertion issuer '{ISSUER}'"),
                 credential(issuer=ISSUER.rstrip("/")))
    assert f.status == Status.FAIL
    assert "with AADSTS700211: credential demo-app on id-app does not match: its issuer lacks " \
           "the trailing '/'" in f.summary
    assert commands(f) == [BIND]


@covers("live.token-exchange", 13)
def test_matching_credential_refused_points_at_the_tokens_issuer() -> None:
    # AKS reports the issuer and the credential matches it, yet Entra saw another issuer: the
    # API server still mints tokens with the in-cluster issuer (see live.token-claims)
    f = exchange(refused("AADSTS700211", "No matching federated identity record found for "
                                         f"presented assertion issuer '{IN_CLUSTER_ISSUER}'"),
                 credential())
    assert f.status == Status.FAIL
    assert "credential demo-app on id-app matches the cluster's issuer" in f.summary
    assert "live.token-claims" in f.summary
    assert f.remediation.text.startswith("Keep the credential.") and commands(f) == []


@covers("live.token-exchange", 14)
def test_subject_of_another_namespace_is_named() -> None:
    f = exchange(refused("AADSTS700213", "No matching federated identity record found for "
                                         f"presented assertion subject 'system:serviceaccount:"
                                         f"{NS}:{SA}'"), credential(ns="prod"))
    assert f.status == Status.FAIL
    assert "its subject names namespace 'prod' instead of 'demo'" in f.summary
    assert commands(f) == [BIND]


@covers("live.token-exchange", 15)
def test_audience_is_named() -> None:
    f = exchange(refused("AADSTS700212", "No matching federated identity record found for "
                                         "presented assertion audience"),
                 credential(audiences=("api://other",)))
    assert f.status == Status.FAIL
    assert f"its audiences ['api://other'] lack {AUDIENCE}" in f.summary


@covers("live.token-exchange", 16)
def test_token_living_too_long() -> None:
    f = exchange(refused("AADSTS70023", "External OIDC Provider token must have a lifetime of "
                                        "less than or equal to 1.01:00:00"), credential())
    assert f.status == Status.FAIL and "lives longer than Entra accepts" in f.summary
    assert "$AZURE_FEDERATED_TOKEN_FILE" in f.remediation.text and commands(f) == []


@covers("live.token-exchange", 17)
def test_fresh_credential_refused_is_propagation() -> None:
    f = exchange(refused("AADSTS700213"), credential(age=30))
    assert f.status == Status.WARN
    assert "Entra refused the exchange with AADSTS700213, but the credential that matches it " \
           "exactly was created " in f.summary
    assert 30 <= seconds_after(f.summary, "exactly was created ") < 90
    assert f.evidence.actual["code"] == "AADSTS700213"
    assert commands(f) == []


def test_fresh_identity_unknown_to_entra_is_propagation() -> None:
    f = exchange(refused("AADSTS700016"), credential(), identities=[identity(age=20)])
    assert f.status == Status.WARN
    assert 20 <= seconds_after(f.summary, "identity id-app was created ") < 80
    assert "s ago: Entra does not know its client id yet" in f.summary


@covers("live.token-exchange", 39)
def test_issuer_documents_entra_cannot_fetch() -> None:
    f = exchange(refused("AADSTS90061", "Request to External OIDC endpoint failed"),
                 credential())
    assert f.status == Status.FAIL
    assert "could not fetch the issuer's OIDC discovery document or its JWKS" in f.summary
    assert "az aks update" in f.remediation.text and commands(f) == []


@covers("live.token-exchange", 40)
def test_signing_key_not_in_the_issuers_jwks() -> None:
    f = exchange(refused("AADSTS7000272", "The key used to sign the federated credential could "
                                          "not be found in the metadata of identity provider"),
                 credential())
    assert f.status == Status.FAIL and "(its kid) is not in the issuer's published JWKS" \
        in f.summary
    assert "Restart the pods" in f.remediation.text


def test_without_the_credentials_the_code_is_explained_from_the_table() -> None:
    # fics could not be read: the check cannot name the credential, so it explains the code
    f = exchange(refused("AADSTS700213"), credential(ns="prod"), fics=False)
    assert f.status == Status.FAIL
    assert "No federated credential on the identity has exactly the token's subject" in f.summary
    assert commands(f) == [BIND]


def test_transport_failure_is_not_an_aadsts_code() -> None:
    f = exchange(Exchange(TENANT, message="connection refused by login.microsoftonline.com"),
                 credential())
    assert f.status == Status.FAIL
    assert f.summary == (f"{NS}/{SA}: the token exchange failed: connection refused by "
                         "login.microsoftonline.com")
    assert "authority host" in f.remediation.text


# -- live.token-claims ----------------------------------------------------------------------------

def claims_run(**claim_values: Any) -> Finding:
    facts = bound(**{k: claim_values.pop(k) for k in ("aks", "api_issuer") if k in claim_values})
    b = binding(facts)
    return one(run("live.token-claims", minted_tokens={b.key: minted(**claim_values)}, **facts))


@covers("live.token-claims")
def test_token_claims_as_entra_wants_them() -> None:
    f = claims_run()
    assert f.status == Status.OK
    assert f.summary.startswith(f"{NS}/{SA}: iss={ISSUER}, aud=['{AUDIENCE}'], lifetime 3600 s")
    assert f.evidence.actual["sub"] == f"system:serviceaccount:{NS}:{SA}"


@covers("live.token-claims", 12)
def test_token_of_another_issuer() -> None:
    other = "https://westeurope.oic.prod-aks.azure.com/t/other/"
    f = claims_run(iss=other)
    assert f.status == Status.FAIL
    assert f"its issuer '{other}' is not the cluster's '{ISSUER}' (AADSTS700211)" in f.summary
    assert f.evidence.expected == {"iss": ISSUER, "aud": [AUDIENCE],
                                   "lifetime_seconds": "<= 86400"}
    assert commands(f) == [f"az aks update -g {RG} -n {CLUSTER}"]


@covers("live.token-claims", 13)
def test_token_with_the_in_cluster_issuer() -> None:
    f = claims_run(iss=IN_CLUSTER_ISSUER)
    assert f.status == Status.FAIL and f"its issuer '{IN_CLUSTER_ISSUER}'" in f.summary


@covers("live.token-claims", 16)
def test_long_lived_token_for_the_api_server() -> None:
    f = claims_run(lifetime=365 * 86400, aud=["https://kubernetes.default.svc"])
    assert f.status == Status.FAIL
    assert "it lives 31536000 s, more than 1 day (AADSTS70023)" in f.summary
    assert "its audience is ['https://kubernetes.default.svc']" in f.summary
    assert f.evidence.actual["lifetime_seconds"] == 31536000


@covers("live.token-claims", 28)
def test_token_issued_ahead_of_this_clock() -> None:
    f = claims_run(skew=900)
    assert f.status == Status.WARN
    assert 840 < seconds_after(f.summary, "the token was issued ") <= 900
    assert "s from this machine's clock" in f.summary
    assert "AADSTS700024" in f.summary and "NTP" in f.remediation.text


def test_token_claims_off_aks_compare_with_the_api_servers_issuer() -> None:
    f = claims_run(aks=NO_AKS, api_issuer=ISSUER, iss="https://elsewhere.example/")
    assert f.status == Status.FAIL and commands(f) == []


def test_token_claims_say_nothing_when_no_token_was_minted() -> None:
    facts = bound()
    b = binding(facts)
    assert run("live.token-claims", minted_tokens={b.key: Minted(error="forbidden")},
               **facts) == []


# -- live.signing-key -----------------------------------------------------------------------------

def signing_run(docs, kid: str = KID, **facts: Any) -> list[Finding]:
    facts = bound(**facts)
    b = binding(facts)
    return run("live.signing-key", minted_tokens={b.key: minted(kid=kid)},
               issuer_documents=docs, **facts)


@covers("live.signing-key")
def test_signing_key_published() -> None:
    f = one(signing_run(issuer_documents()))
    assert f.status == Status.OK
    assert f.summary.startswith(f"Tokens are signed with key {KID}, which ")


@covers("live.signing-key", 40)
def test_signing_key_withdrawn_after_two_rotations() -> None:
    f = one(signing_run(issuer_documents(kids=("kid-next", "kid-newest")), kid="kid-old"))
    assert f.status == Status.FAIL
    assert "signed with key 'kid-old', which the issuer's JWKS" in f.summary
    assert "AADSTS7000272" in f.summary
    assert f.evidence.actual == ["kid-next", "kid-newest"]
    assert commands(f) == [f"az aks update -g {RG} -n {CLUSTER}"]


def test_signing_key_skips_when_the_jwks_cannot_be_read() -> None:
    f = one(signing_run(issuer_documents(problem="the JWKS could not be read (HTTP 500)")))
    assert f.status == Status.SKIP and "identity.issuer-documents" in f.summary


def test_signing_key_says_nothing_without_a_token() -> None:
    facts = bound()
    b = binding(facts)
    assert run("live.signing-key", minted_tokens={b.key: Minted(error="forbidden")},
               issuer_documents=issuer_documents(), **facts) == []
