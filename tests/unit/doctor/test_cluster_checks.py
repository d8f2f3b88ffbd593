"""The cluster layer's checks on plain values: the AKS record ARM gives and the issuer the API
server publishes."""

from __future__ import annotations

from checkrun import commands, covers, one, run
from values import CLUSTER, ISSUER, NO_AKS, RG, aks, cluster
from wi_cli.core.models import Status
from wi_cli.doctor.facts.cluster import IN_CLUSTER_ISSUER, AksRecord


# -- cluster.aks ----------------------------------------------------------------------------------

@covers("cluster.aks")
def test_aks_found_names_the_cluster_and_how() -> None:
    f = one(run("cluster.aks", aks=aks(how="named on the command line")))
    assert f.status == Status.OK
    assert f.summary == f"AKS cluster {CLUSTER} (named on the command line)."


def test_aks_not_found_skips_with_why() -> None:
    f = one(run("cluster.aks", aks=AksRecord(None, "no Azure subscription configured")))
    assert f.status == Status.SKIP
    assert "no Azure subscription configured" in f.summary and "skipped" in f.summary


# -- cluster.oidc-issuer --------------------------------------------------------------------------

@covers("cluster.oidc-issuer")
def test_oidc_issuer_on() -> None:
    f = one(run("cluster.oidc-issuer", aks=aks()))
    assert f.status == Status.OK and ISSUER in f.summary


@covers("cluster.oidc-issuer", 13)
def test_oidc_issuer_off_fails_with_the_update_command() -> None:
    f = one(run("cluster.oidc-issuer", aks=aks(cluster(oidc=False))))
    assert f.status == Status.FAIL
    assert "OIDC issuer is off" in f.summary and "internal issuer" in f.summary
    assert f.evidence.expected == {"oidcIssuerProfile.enabled": True, "issuerURL": "an https URL"}
    assert f.evidence.actual == {"oidcIssuerProfile.enabled": False, "issuerURL": None}
    assert "re-create the federated credentials" in f.remediation.text
    assert commands(f) == [f"az aks update -g {RG} -n {CLUSTER} --enable-oidc-issuer"]


def test_oidc_issuer_says_nothing_without_an_aks_record() -> None:
    assert run("cluster.oidc-issuer", aks=NO_AKS) == []  # cluster.aks says why


# -- cluster.workload-identity --------------------------------------------------------------------

@covers("cluster.workload-identity")
def test_workload_identity_on() -> None:
    f = one(run("cluster.workload-identity", aks=aks()))
    assert f.status == Status.OK and "workloadIdentity.enabled is true" in f.summary


@covers("cluster.workload-identity", 3)
def test_workload_identity_off_fails_with_the_update_command() -> None:
    f = one(run("cluster.workload-identity", aks=aks(cluster(workload_identity=False))))
    assert f.status == Status.FAIL
    assert "Workload identity is off" in f.summary and "webhook" in f.summary
    assert (f.evidence.expected, f.evidence.actual) == (True, False)
    assert commands(f) == [f"az aks update -g {RG} -n {CLUSTER} --enable-workload-identity"]


def test_workload_identity_says_nothing_without_an_aks_record() -> None:
    assert run("cluster.workload-identity", aks=NO_AKS) == []


# -- cluster.issuer-consistent --------------------------------------------------------------------

@covers("cluster.issuer-consistent")
def test_api_server_issues_tokens_with_the_aks_issuer() -> None:
    f = one(run("cluster.issuer-consistent", aks=aks(), api_issuer=ISSUER))
    assert f.status == Status.OK and f"iss {ISSUER}" in f.summary


@covers("cluster.issuer-consistent", 12)
def test_kubeconfig_of_another_cluster_fails_with_get_credentials() -> None:
    other = "https://westeurope.oic.prod-aks.azure.com/another-tenant/another-cluster/"
    f = one(run("cluster.issuer-consistent", aks=aks(), api_issuer=other))
    assert f.status == Status.FAIL
    assert other in f.summary and ISSUER in f.summary and "another cluster" in f.summary
    assert (f.evidence.expected, f.evidence.actual) == (ISSUER, other)
    assert commands(f) == [f"az aks get-credentials -g {RG} -n {CLUSTER}"]


def test_issuer_consistent_skips_when_the_api_server_publishes_no_issuer() -> None:
    f = one(run("cluster.issuer-consistent", aks=aks(), api_issuer=None))
    assert f.status == Status.SKIP and "no OIDC discovery document" in f.summary


def test_issuer_consistent_with_the_issuer_off_is_a_mismatch_with_the_in_cluster_issuer() -> None:
    # in a run, cluster.oidc-issuer fails first and this check is skipped (requires=)
    f = one(run("cluster.issuer-consistent", aks=aks(cluster(oidc=False)),
                api_issuer=IN_CLUSTER_ISSUER))
    assert f.status == Status.FAIL and f.evidence.expected is None
