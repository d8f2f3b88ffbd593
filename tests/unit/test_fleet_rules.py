"""The fleet's rules on plain values: each context summed up, and the cross-cluster findings
(stale trust, one tenant per identity, room for more clusters on an identity)."""

from __future__ import annotations

from wi_cli.core.models import Finding, Status, Target
from wi_cli.core.models.fleet import (
    Claim,
    IssuerProbe,
    IssuerState,
    Trust,
    assign_fleet_keys,
    in_context,
    credential_pressure,
    issuers_to_probe,
    stale_trust,
    summarize,
    tenant_conflicts,
    unreachable,
)

LIVE = "https://westeurope.oic.prod-aks.azure.com/tenant/live-guid/"
DELETED = "https://westeurope.oic.prod-aks.azure.com/tenant/deleted-guid/"
GITHUB = "https://token.actions.githubusercontent.com"
EKS = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF"
GONE_HOST = "https://issuer.retired-platform.example/"
T1 = "11111111-1111-1111-1111-111111111111"
T2 = "22222222-2222-2222-2222-222222222222"
SUBS = ["sub-a", "sub-b"]


def trust(issuer: str, subject: str = "system:serviceaccount:demo:app", identity: str = "id-a",
          name: str = "cred") -> Trust:
    return Trust(identity, identity, name, issuer, subject)


def judge(*trusts: Trust, probes: dict[str, IssuerProbe] | None = None,
          known: tuple[str, ...] = (LIVE,)) -> list[Finding]:
    return stale_trust(list(trusts), set(known), probes or {}, SUBS, {"id-a": ["east", "west"]})


def test_a_deleted_clusters_issuer_answering_404_is_stale_with_the_exact_unbind() -> None:
    found = judge(trust(LIVE), trust(DELETED, name="old"),
                  probes={DELETED: IssuerProbe(IssuerState.NOT_FOUND, "HTTP 404")})
    (stale,) = [f for f in found if f.status == Status.FAIL]
    assert stale.id == "fleet.stale-trust" and stale.layer == "fleet"
    assert stale.target.identity == "id-a" and stale.target.issuer == DELETED
    assert stale.target.context == "east,west"
    assert "HTTP 404" in str(stale.evidence.actual) and "2 subscriptions" in stale.summary
    assert stale.remediation.commands == [f"wi unbind app id-a -n demo --issuer {DELETED}"]


def test_an_issuer_whose_host_does_not_resolve_is_stale_and_says_the_risk() -> None:
    (stale,) = judge(trust(GONE_HOST, "system:serviceaccount:jobs:batch"),
                     probes={GONE_HOST: IssuerProbe(IssuerState.UNRESOLVED, "does not resolve")})
    assert stale.status == Status.FAIL
    assert "does not resolve" in stale.summary and "mint tokens" in stale.remediation.text
    assert stale.remediation.commands == [f"wi unbind batch id-a -n jobs --issuer {GONE_HOST}"]


def test_github_actions_is_information_never_a_fix_and_is_not_fetched() -> None:
    t = trust(GITHUB, "repo:contoso/app:ref:refs/heads/main")
    assert issuers_to_probe([t], {LIVE}) == []
    (f,) = judge(t)
    assert f.status == Status.OK and "GitHub Actions" in f.summary
    assert f.remediation is None


def test_an_issuer_whose_document_answers_is_never_stale() -> None:
    (f,) = judge(trust(EKS), probes={EKS: IssuerProbe(IssuerState.ANSWERS)})
    assert f.status == Status.OK and f.remediation is None and "EKS" in f.summary


def test_an_issuer_that_could_not_be_read_is_not_judged() -> None:
    (f,) = judge(trust(DELETED), probes={DELETED: IssuerProbe(IssuerState.UNREADABLE, "HTTP 503")})
    assert f.status == Status.SKIP and "HTTP 503" in f.summary and f.remediation is None


def test_staleness_needs_both_arm_and_the_document() -> None:
    # known to ARM (or a live context's issuer) but its document 404s: not stale trust
    found = judge(trust(DELETED), known=(DELETED,),
                  probes={DELETED: IssuerProbe(IssuerState.NOT_FOUND, "HTTP 404")})
    assert [f.status for f in found] == [Status.OK]
    assert issuers_to_probe([trust(DELETED)], {DELETED}) == []
    assert issuers_to_probe([trust(DELETED), trust(GITHUB, "repo:x")], {LIVE}) == [DELETED]


def test_an_identity_whose_trusts_are_all_live_gets_one_ok() -> None:
    (f,) = judge(trust(LIVE), trust(LIVE, "system:serviceaccount:demo:other"))
    assert f.status == Status.OK and "2 federated credentials" in f.summary


def claim(context: str, tenant: str | None, ns: str = "demo", sa: str = "app",
          identity_tenant: str | None = T1) -> Claim:
    return Claim(context, ns, sa, "id-a", "client-a", tenant, identity_tenant)


def test_two_clusters_claiming_one_identity_with_different_tenants_fail() -> None:
    (f,) = tenant_conflicts([claim("east", T1), claim("west", T2)])
    assert f.status == Status.FAIL and f.id == "fleet.tenant"
    assert f.target.context == "east,west" and f.target.identity == "id-a"
    assert T1 in f.summary and T2 in f.summary and "west demo/app" in f.summary
    assert f.remediation.commands == [
        f"kubectl --context west annotate serviceaccount app -n demo "
        f"azure.workload.identity/tenant-id={T1} --overwrite"]


def test_one_tenant_everywhere_or_one_cluster_is_fine() -> None:
    (f,) = tenant_conflicts([claim("east", T1), claim("west", T1.upper())])
    assert f.status == Status.OK
    assert tenant_conflicts([claim("east", T1), claim("east", T2, sa="other")]) == []
    # a domain name cannot be compared with a GUID without asking Entra
    (g,) = tenant_conflicts([claim("east", T1), claim("west", "contoso.onmicrosoft.com")])
    assert g.status == Status.OK


def test_many_clusters_on_one_identity_is_credential_pressure() -> None:
    issuers = [f"https://oic/t/cluster-{i}/" for i in range(9)]
    held = [trust(issuers[i % 9], f"system:serviceaccount:ns{i}:app") for i in range(17)]
    (f,) = credential_pressure({"id-a": held}, {"id-a": ["east", "west"]})
    assert f.status == Status.WARN and f.id == "fleet.credential-room"
    assert "17 of 20" in f.summary and "9 issuers" in f.summary
    assert "one identity per region" in f.remediation.text


def test_a_full_identity_of_one_cluster_is_not_the_fleets_concern() -> None:
    held = [trust(LIVE, f"system:serviceaccount:ns{i}:app") for i in range(18)]
    (f,) = credential_pressure({"id-a": held}, {})
    assert f.status == Status.OK and "1 issuer" in f.summary


def test_a_context_is_summed_up_by_its_worst_finding() -> None:
    ok = Finding("a", "A", "cluster", Status.OK, "fine")
    warn = Finding("b", "B", "workload", Status.WARN, "hmm")
    fail = Finding("c", "C", "identity", Status.FAIL, "broken")
    row = summarize("east", [ok, warn, fail], "aks-east", LIVE, 3)
    assert (row.status, row.worst, row.counts["fail"], row.counts["ok"]) == ("fail", fail, 1, 1)
    assert summarize("east", [ok]).status == "ok"
    gone = unreachable("gone", "the API server could not be reached", ["Check the VPN."])
    row = summarize("gone", [gone], error="the API server could not be reached")
    assert row.status == "error" and gone.unreadable and gone.target.context == "gone"


def test_keys_are_unique_across_the_fleet() -> None:
    same = [Finding("identity.fic", "F", "identity", Status.OK, "x",
                    target=Target(context=c, namespace="demo", service_account="app"))
            for c in ("east", "west", "west")]
    fleet = Finding("fleet.tenant", "T", "fleet", Status.OK, "y",
                    target=Target(context="east,west", identity="id-a"))
    assign_fleet_keys([*same, fleet])
    assert [f.key for f in same] == ["east/identity.fic:demo/app", "west/identity.fic:demo/app",
                                     "west/identity.fic:demo/app#2"]
    assert fleet.key == "fleet/fleet.tenant:id-a"


def test_a_contexts_fix_commands_are_pinned_to_it() -> None:
    assert in_context("wi bind app id -n demo", "east") == "wi --context east bind app id -n demo"
    assert in_context("kubectl annotate sa app -n demo x=y --overwrite", "a b") == \
        "kubectl --context 'a b' annotate sa app -n demo x=y --overwrite"
    assert in_context("az aks update -g rg -n c", "east") == "az aks update -g rg -n c"
    assert in_context("kubectl --context west get sa", "east") == "kubectl --context west get sa"
