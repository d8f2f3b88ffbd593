"""The identity layer's checks on plain values: the identities ARM lists, their federated
credentials, the issuer's documents, and the projected token the pods present. The bindings,
the cluster's issuer and the token audience are computed by doctor's own fact providers."""

from __future__ import annotations

from typing import Any

from checkrun import commands, covers, derive, one, run, seconds_after
from values import (
    AUDIENCE,
    CLIENT_ID,
    CLUSTER,
    ISSUER,
    NO_AKS,
    NS,
    OTHER_CLIENT_ID,
    PRINCIPAL_ID,
    RG,
    SA,
    SUBSCRIPTION,
    accepted,
    aks,
    backend,
    credential,
    exchanged,
    fics_for,
    identity,
    issuer_documents,
    mutate,
    pod,
    pod_manifest,
    refused,
    service_account,
    subject,
    webhook_config,
)
from wi_cli.core.models import MAX_CREDENTIALS, Pod, Status, from_json
from wi_cli.doctor.facts import Scope
from wi_cli.doctor.facts.cluster import IN_CLUSTER_ISSUER
from wi_cli.doctor.facts.webhook import WebhookInstall

BIND = f"wi bind {SA} id-app -n {NS}"
WANT = {"issuer": ISSUER, "subject": subject(), "audiences": [AUDIENCE]}


def bound(*, client_id: str = CLIENT_ID, **facts: Any) -> dict[str, Any]:
    """A service account bound to identity id-app, used by a mutated pod, on an AKS cluster."""
    return {"service_accounts": [service_account(client_id=client_id)],
            "pods": [pod(client_id=client_id)], "identities": [identity()], "aks": aks(),
            "azure_access": True, **facts}


def with_fics(*credentials, **facts: Any) -> dict[str, Any]:
    return bound(fics=fics_for(identity(), *credentials), **facts)


# -- identity.client-id ---------------------------------------------------------------------------

@covers("identity.client-id")
def test_client_id_resolves_to_the_identity() -> None:
    f = one(run("identity.client-id", **bound()))
    assert f.status == Status.OK
    assert f.summary == (f"{NS}/{SA}: client id {CLIENT_ID} is identity id-app (resource group "
                         f"{RG}, westeurope).")


@covers("identity.client-id", 9)
def test_principal_id_instead_of_client_id_fails_with_bind_to_its_identity() -> None:
    f = one(run("identity.client-id", **bound(client_id=PRINCIPAL_ID)))
    assert f.status == Status.FAIL
    assert f"{PRINCIPAL_ID} is the principalId (object id) of identity id-app" in f.summary
    assert "AADSTS700016" in f.summary
    assert (f.evidence.expected, f.evidence.actual) == (CLIENT_ID, PRINCIPAL_ID)
    assert commands(f) == [BIND]


@covers("identity.client-id", 9)
def test_unknown_client_id_fails_with_the_identity_list() -> None:
    f = one(run("identity.client-id", **bound(client_id=OTHER_CLIENT_ID)))
    assert f.status == Status.FAIL
    assert f"client id {OTHER_CLIENT_ID} matches no user-assigned identity in subscription " \
           f"{SUBSCRIPTION}" in f.summary
    assert commands(f) == ['az identity list --query "[].{name:name, clientId:clientId}" -o '
                           "table", f"wi bind {SA} IDENTITY -n {NS}"]


def test_bind_commands_name_the_cluster_doctor_was_pointed_at() -> None:
    f = one(run("identity.client-id", scope=Scope(NS, cluster=CLUSTER, resource_group=RG),
                **bound(client_id=PRINCIPAL_ID)))
    assert commands(f) == [f"{BIND} --cluster {CLUSTER} -g {RG}"]


def test_client_id_entra_refuses_for_another_reason_is_known_elsewhere() -> None:
    facts = bound(client_id=OTHER_CLIENT_ID)
    (b,) = derive(facts)["bindings"]
    f = one(run("identity.client-id", exchanges={b.key: refused("AADSTS700213")}, **facts))
    assert f.status == Status.WARN and "Entra knows it (it answered AADSTS700213)" in f.summary
    assert "--subscription" in f.remediation.text


def test_client_id_entra_issues_a_token_for_is_known_elsewhere() -> None:
    facts = bound(client_id=OTHER_CLIENT_ID)
    (b,) = derive(facts)["bindings"]
    f = one(run("identity.client-id", exchanges={b.key: accepted(b)}, **facts))
    assert f.status == Status.WARN and "Entra knows it (it answered ok)" in f.summary


def test_client_id_skips_without_azure() -> None:
    f = one(run("identity.client-id", **bound(azure_access=False)))
    assert f.status == Status.SKIP and "--subscription" in f.summary


def test_client_id_that_is_no_guid_is_left_to_the_workload_check() -> None:
    f = one(run("identity.client-id", **bound(client_id="id-app")))
    assert f.status == Status.SKIP and "workload.client-id" in f.summary


# -- identity.region ------------------------------------------------------------------------------

@covers("identity.region")
def test_identity_in_a_supported_region() -> None:
    f = one(run("identity.region", **bound()))
    assert f.status == Status.OK and f.summary == f"id-app ({NS}/{SA}) is in westeurope."


@covers("identity.region", 20)
def test_identity_where_federated_credentials_are_unsupported() -> None:
    f = one(run("identity.region", **bound(identities=[identity(location="malaysiasouth")])))
    assert f.status == Status.FAIL
    assert "is in Malaysia South, where managed identities cannot hold federated credentials" \
        in f.summary
    assert f.evidence.actual == "malaysiasouth"
    assert commands(f) == [f"az identity create -g {RG} -n id-app-2 -l westeurope",
                           f"wi bind {SA} id-app-2 -n {NS}"]


def test_region_reports_nothing_without_a_resolved_identity() -> None:
    assert run("identity.region", **bound(identities=[])) == []


# -- identity.fic-limit ---------------------------------------------------------------------------

def others(n: int) -> list:
    return [credential(f"other-{i}", ns="team", sa=f"sa-{i}") for i in range(n)]


@covers("identity.fic-limit")
def test_room_for_credentials() -> None:
    f = one(run("identity.fic-limit", **with_fics(credential())))
    assert f.status == Status.OK and f"1 of {MAX_CREDENTIALS} federated credentials" in f.summary


@covers("identity.fic-limit", 19)
def test_full_identity_that_needs_one_more_credential_warns() -> None:
    f = one(run("identity.fic-limit", **with_fics(*others(MAX_CREDENTIALS))))
    assert f.status == Status.WARN
    assert f"already has {MAX_CREDENTIALS} federated credentials" in f.summary
    assert f"{NS}/{SA} needs a new one: creating it will be refused" in f.summary
    assert "other-0" in f.remediation.text
    assert commands(f) == ["wi unbind SA id-app -n NS --issuer ISSUER"]


def test_full_identity_already_trusting_the_service_account_warns_about_the_next_bind() -> None:
    f = one(run("identity.fic-limit",
                **with_fics(credential(), *others(MAX_CREDENTIALS - 1))))
    assert f.status == Status.WARN and "the identity is full" in f.summary


# -- identity.fic ---------------------------------------------------------------------------------

@covers("identity.fic")
def test_credential_matches_exactly() -> None:
    f = one(run("identity.fic", **with_fics(credential())))
    assert f.status == Status.OK
    assert f.summary == (f"{NS}/{SA}: credential {NS}-{SA} on id-app matches issuer, subject and "
                         "audience.")


@covers("identity.fic", 10)
def test_identity_without_credentials_fails_with_aadsts70025() -> None:
    f = one(run("identity.fic", **with_fics()))
    assert f.status == Status.FAIL
    assert "identity id-app has no federated credentials: Entra will answer AADSTS70025" \
        in f.summary
    assert (f.evidence.expected, f.evidence.actual) == (WANT, [])
    assert commands(f) == [BIND]


@covers("identity.fic", 13)
def test_the_in_cluster_issuer_is_named_and_never_bound() -> None:
    """OIDC issuer off (no AKS record here, so cluster.oidc-issuer cannot say it): the tokens'
    issuer is the in-cluster one, which no credential can ever match."""
    internal = "https://kubernetes.default.svc.cluster.local"
    f = one(run("identity.fic", **with_fics(aks=NO_AKS, api_issuer=internal)))
    assert f.status == Status.FAIL
    assert f"in-cluster issuer {internal}, which Entra cannot reach" in f.summary
    assert "AADSTS70021" in f.summary and f.evidence.actual == internal
    assert commands(f) == ["az aks update -g RG -n CLUSTER --enable-oidc-issuer", BIND]


@covers("identity.fic", 12)
def test_issuer_without_its_trailing_slash_is_replaced() -> None:
    slip = credential(issuer=ISSUER.rstrip("/"))
    f = one(run("identity.fic", **with_fics(slip)))
    assert f.status == Status.FAIL
    assert "its issuer lacks the trailing '/' the cluster's issuer has (the cluster's issuer " \
           f"is from AKS cluster {CLUSTER})" in f.summary
    assert "Entra will answer AADSTS700211" in f.summary
    assert f.evidence.actual["issuer"] == ISSUER.rstrip("/")
    assert commands(f) == [BIND, f"wi unbind {SA} id-app -n {NS} --issuer {ISSUER.rstrip('/')}"]
    assert "can never match a token of this cluster" in f.remediation.text


@covers("identity.fic", 12)
def test_credential_of_another_cluster_is_left_alone() -> None:
    old = credential(issuer="https://eastus.oic.prod-aks.azure.com/t/old-cluster/")
    f = one(run("identity.fic", **with_fics(old)))
    assert f.status == Status.FAIL
    assert "is another issuer: another cluster's, or this cluster before it was re-created" \
        in f.summary
    assert commands(f) == [BIND]
    assert f"{NS}-{SA} is left as it is" in f.remediation.text


@covers("identity.fic", 14)
def test_subject_of_another_namespace() -> None:
    f = one(run("identity.fic", **with_fics(credential(ns="prod"))))
    assert f.status == Status.FAIL
    assert "its subject names namespace 'prod' instead of 'demo'" in f.summary
    assert "AADSTS700213" in f.summary
    assert commands(f) == [BIND]


@covers("identity.fic", 14)
def test_subject_differing_only_in_case_is_replaced() -> None:
    upper = credential("demo-App", subject_=subject(NS, "App"))
    f = one(run("identity.fic", **with_fics(upper)))
    assert f.status == Status.FAIL
    assert "differs only in case" in f.summary and "AADSTS7002138" in f.summary
    assert commands(f) == [BIND, f"az identity federated-credential delete -g {RG} "
                                 "--identity-name id-app -n demo-App --yes"]


def test_credentials_of_other_service_accounts_are_not_this_ones() -> None:
    facts = with_fics(credential("demo-worker", sa="worker"))
    facts["service_accounts"].append(service_account("worker", client_id=None))
    f = one(run("identity.fic", **facts))
    assert f.status == Status.FAIL
    assert "has no federated credential for this service account (its 1 credential(s) are " \
           f"for {subject(NS, 'worker')})" in f.summary
    assert commands(f) == [BIND]


@covers("identity.fic", 15)
def test_audience_of_the_trust_differs() -> None:
    f = one(run("identity.fic", **with_fics(credential(audiences=("api://other",)))))
    assert f.status == Status.FAIL
    assert f"its audiences ['api://other'] lack {AUDIENCE}: Entra will answer AADSTS700212" \
        in f.summary
    assert f.remediation.text.startswith(f"Set the audience of {NS}-{SA}")
    assert commands(f) == [BIND]


def test_audience_is_the_one_the_webhook_is_told_to_project() -> None:
    custom = "api://custom-audience"
    webhook = WebhookInstall([webhook_config()], {"kube-system": backend(
        args=[f"--audience={custom}"])})
    f = one(run("identity.fic", webhook=webhook, **with_fics(credential())))
    assert f.status == Status.FAIL and f"lack {custom}" in f.summary


def test_fic_skips_when_the_clusters_issuer_is_unknown() -> None:
    f = one(run("identity.fic", **with_fics(credential(), aks=NO_AKS)))
    assert f.status == Status.SKIP and "issuer is unknown" in f.summary


def test_fic_compares_with_the_api_servers_issuer_off_aks() -> None:
    f = one(run("identity.fic", api_issuer=ISSUER, **with_fics(credential(), aks=NO_AKS)))
    assert f.status == Status.OK


# -- identity.fic-propagation ---------------------------------------------------------------------

@covers("identity.fic-propagation")
def test_credential_older_than_the_propagation_window() -> None:
    f = one(run("identity.fic-propagation", **with_fics(credential(age=86400))))
    assert f.status == Status.OK and f.summary == f"{NS}/{SA}: credential {NS}-{SA} (created " \
                                                  "24 h ago)."


@covers("identity.fic-propagation", 17)
def test_fresh_credential_warns_that_entra_may_not_see_it_yet() -> None:
    f = one(run("identity.fic-propagation", **with_fics(credential(age=40))))
    assert f.status == Status.WARN
    assert 40 <= seconds_after(f.summary, "was created ") < 100
    assert "AADSTS70025, 700211 or 700213" in f.summary
    assert f.evidence.expected == "older than 10 minutes"
    assert commands(f) == [] and "re-run in a few minutes" in f.remediation.text


@covers("identity.fic-propagation", 17)
def test_refusal_of_a_fresh_credential_is_propagation() -> None:
    fresh = credential(age=200, changed=30)
    facts = with_fics(fresh)
    (b,) = derive(facts)["bindings"]
    answer = exchanged(b, refused("AADSTS700213"), [fresh])
    f = one(run("identity.fic-propagation", exchanges={b.key: answer}, **facts))
    assert f.status == Status.WARN
    assert 30 <= seconds_after(f.summary, "(changed ") < 90
    assert "s ago) is not seen by Entra yet: it answered AADSTS700213" in f.summary


def test_fresh_credential_entra_accepts_is_fine() -> None:
    fresh = credential(age=40)
    facts = with_fics(fresh)
    (b,) = derive(facts)["bindings"]
    f = one(run("identity.fic-propagation", exchanges={b.key: accepted(b)}, **facts))
    assert f.status == Status.OK and "is accepted by Entra" in f.summary


def test_credential_of_unknown_age_is_not_suspected() -> None:
    f = one(run("identity.fic-propagation", **with_fics(credential(age=None))))
    assert f.status == Status.OK and "(age unknown)" in f.summary


def test_propagation_reports_nothing_without_a_matching_credential_or_issuer() -> None:
    assert run("identity.fic-propagation", **with_fics(credential(ns="prod"))) == []
    assert run("identity.fic-propagation", **with_fics(credential(), aks=NO_AKS)) == []


# -- identity.issuer-documents --------------------------------------------------------------------

@covers("identity.issuer-documents")
def test_issuer_documents_served() -> None:
    f = one(run("identity.issuer-documents", issuer_documents=issuer_documents(), aks=aks()))
    assert f.status == Status.OK
    assert f.summary == (f"{ISSUER}.well-known/openid-configuration and its JWKS (1 key(s)) are "
                         "served.")


@covers("identity.issuer-documents", 39)
def test_unreadable_jwks_fails_with_the_aks_reconcile() -> None:
    problem = f"the JWKS {ISSUER}openid/v1/jwks could not be read (HTTP 404)"
    f = one(run("identity.issuer-documents", issuer_documents=issuer_documents(problem=problem),
                aks=aks()))
    assert f.status == Status.FAIL
    assert f"Entra cannot verify this cluster's tokens: {problem}" in f.summary
    assert "AADSTS50166/90061" in f.summary
    assert commands(f) == [f"az aks update -g {RG} -n {CLUSTER}"]


@covers("identity.issuer-documents", 39)
def test_discovery_naming_another_issuer_off_aks_says_what_to_publish() -> None:
    docs = issuer_documents(issuer="https://storage.example.net/other/")
    f = one(run("identity.issuer-documents", issuer_documents=docs))
    assert f.status == Status.FAIL and "names issuer 'https://storage.example.net/other/'" \
        in f.summary
    assert (f.evidence.expected, f.evidence.actual) == (ISSUER, "https://storage.example.net/"
                                                                "other/")
    assert commands(f) == [] and "/.well-known/openid-configuration" in f.remediation.text


def test_issuer_documents_skip_when_the_issuer_is_unknown_or_in_cluster() -> None:
    unknown = one(run("identity.issuer-documents", issuer_documents=issuer_documents(None)))
    internal = one(run("identity.issuer-documents", issuer_documents=issuer_documents(
        IN_CLUSTER_ISSUER, problem="not public")))
    assert unknown.status == internal.status == Status.SKIP
    assert "cluster.oidc-issuer" in internal.summary


# -- identity.token-source ------------------------------------------------------------------------

TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"


@covers("identity.token-source")
def test_projected_token_with_a_valid_lifetime_and_audience() -> None:
    f = one(run("identity.token-source", **bound()))
    assert f.status == Status.OK and f.summary.startswith(f"{NS}/worker (service account {SA})")


@covers("identity.token-source", 16)
def test_app_pointed_at_the_default_service_account_token() -> None:
    manifest = mutate(pod_manifest(containers=[{"name": "app", "image": "app", "env": [
        {"name": TOKEN_FILE, "value": "/var/run/secrets/kubernetes.io/serviceaccount/token"}]}]))
    f = one(run("identity.token-source", **bound(pods=[from_json(Pod, manifest)])))
    assert f.status == Status.FAIL
    assert f"container app sets {TOKEN_FILE}=/var/run/secrets/kubernetes.io/serviceaccount/" \
           "token: the default service-account token" in f.summary
    assert "AADSTS70023" in f.summary
    assert commands(f) == [f"kubectl delete pod worker -n {NS}"]


@covers("identity.token-source", 16)
def test_projected_token_living_more_than_a_day() -> None:
    manifest = mutate(pod_manifest())
    volume = next(v for v in manifest["spec"]["volumes"] if "projected" in v)
    volume["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] = 172800
    f = one(run("identity.token-source", **bound(pods=[from_json(Pod, manifest)])))
    assert f.status == Status.FAIL
    assert "asks for tokens living 172800 s (more than 1 day)" in f.summary


def test_projected_audience_other_than_the_webhooks_flag() -> None:
    webhook = WebhookInstall([webhook_config()], {"kube-system": backend(
        args=[f"--audience={AUDIENCE}"])})
    old = from_json(Pod, mutate(pod_manifest(), audience="api://custom"))
    f = one(run("identity.token-source", webhook=webhook, **bound(pods=[old])))
    assert f.status == Status.FAIL and "asks for audience 'api://custom'" in f.summary


def test_token_source_reports_nothing_without_pods() -> None:
    assert run("identity.token-source", **bound(pods=[])) == []
