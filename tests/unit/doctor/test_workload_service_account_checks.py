"""The workload layer's service-account checks on plain values (wi_cli/doctor/checks/workload/
service_account.py): the service account exists, and its client-id, tenant-id and
token-expiration annotations are what the webhook needs."""

from __future__ import annotations

import json

from checkrun import commands, covers, one, run
from values import (
    CLIENT_ID,
    NS,
    OTHER_TENANT,
    SA,
    TENANT,
    deployment,
    deployment_and_pods,
    identity,
    pod,
    service,
    service_account,
)
from wi_cli.core.models import WI_CLIENT_ID, WI_TENANT_ID, Status
from wi_cli.doctor.facts import Scope

EXPIRATION = "azure.workload.identity/service-account-token-expiration"
RECREATE = f"kubectl get pod worker -n {NS} -o yaml | kubectl replace --force -f -"


# -- workload.service-account ---------------------------------------------------------------------

@covers("workload.service-account")
def test_service_account_exists() -> None:
    f = one(run("workload.service-account", service_accounts=[service_account()],
                pods=[pod()]))
    assert f.status == Status.OK and f.summary == f"ServiceAccount {NS}/{SA} exists."


@covers("workload.service-account", 8)
def test_missing_service_account_names_its_users_and_how_to_create_it() -> None:
    # the API server refuses the Deployment's pods (no such service account), so none exist
    f = one(run("workload.service-account",
                deployments=[deployment("web", service_account="ghost")]))
    assert f.status == Status.FAIL
    assert f.summary.startswith(f"ServiceAccount {NS}/ghost does not exist (used by "
                                f"deployment {NS}/web)")
    assert (f.evidence.expected, f.evidence.actual) == (f"ServiceAccount {NS}/ghost", None)
    assert commands(f) == [f"kubectl create serviceaccount ghost -n {NS}",
                           f"wi bind ghost IDENTITY -n {NS}"]


def test_missing_service_account_asked_for_by_name() -> None:
    f = one(run("workload.service-account", scope=Scope(NS, service_account="ghost")))
    assert f.status == Status.FAIL and "(used by --service-account)" in f.summary


def test_service_account_reports_nothing_when_nothing_uses_workload_identity() -> None:
    unbound = service_account("default", client_id=None)
    assert run("workload.service-account", service_accounts=[unbound],
               pods=[pod(labelled=False, service_account="default")]) == []


# -- workload.client-id ---------------------------------------------------------------------------

@covers("workload.client-id")
def test_client_id_is_a_guid() -> None:
    f = one(run("workload.client-id", service_accounts=[service_account()], pods=[pod()]))
    assert f.status == Status.OK and f.summary == f"{NS}/{SA}: client-id {CLIENT_ID}."


@covers("workload.client-id", 9)
def test_client_id_holding_the_identity_name_fails_with_bind_by_name_and_restart() -> None:
    d, pods = deployment_and_pods("web", client_id="id-app")
    f = one(run("workload.client-id", service_accounts=[service_account(client_id="id-app")],
                deployments=[d], pods=pods))
    assert f.status == Status.FAIL
    assert "client-id 'id-app' is not a GUID" in f.summary and "AADSTS700016" in f.summary
    assert f.evidence.actual == {WI_CLIENT_ID: "id-app"}
    assert commands(f) == [f"wi bind {SA} id-app -n {NS}",
                           f"kubectl rollout restart deployment/web -n {NS}"]


def test_client_id_that_is_no_name_either_binds_a_placeholder() -> None:
    f = one(run("workload.client-id", service_accounts=[service_account(client_id="not valid!")],
                pods=[pod()]))
    assert f.status == Status.FAIL and commands(f)[0] == f"wi bind {SA} IDENTITY -n {NS}"


@covers("workload.client-id", 7)
def test_client_id_under_a_near_miss_key_fails_with_the_right_key() -> None:
    typo = "azure.workload.identity/client_id"
    sa = service_account(client_id=None, annotations={typo: CLIENT_ID})
    f = one(run("workload.client-id", service_accounts=[sa], pods=[pod(client_id=None)]))
    assert f.status == Status.FAIL
    assert f"no {WI_CLIENT_ID} annotation, but a near miss is there" in f.summary
    assert f"key '{typo}' on the service account" in f.summary
    assert f.evidence.actual == {WI_CLIENT_ID: None, "near-miss keys": {typo: CLIENT_ID}}
    assert commands(f) == [f"kubectl annotate sa {SA} -n {NS} {WI_CLIENT_ID}={CLIENT_ID} "
                           "--overwrite",
                           f"kubectl annotate sa {SA} -n {NS} {typo}-", RECREATE]


@covers("workload.client-id", 7)
def test_client_id_on_the_service_instead_of_the_service_account() -> None:
    d, pods = deployment_and_pods("web", client_id=None)
    svc = service("web", selector={"app": "web"}, annotations={WI_CLIENT_ID: CLIENT_ID})
    f = one(run("workload.client-id", service_accounts=[service_account(client_id=None)],
                deployments=[d], pods=pods, services=[svc, service("unrelated")]))
    assert f.status == Status.FAIL and f"service {NS}/web" in f.summary
    assert f.evidence.actual["on other objects"] == {f"service {NS}/web": {
        WI_CLIENT_ID: CLIENT_ID}}
    assert commands(f) == [
        f"kubectl annotate sa {SA} -n {NS} {WI_CLIENT_ID}={CLIENT_ID} --overwrite",
        f"kubectl annotate service web -n {NS} {WI_CLIENT_ID}-",
        f"kubectl rollout restart deployment/web -n {NS}"]


@covers("workload.client-id", 7)
def test_client_id_absent_fails_with_wi_bind() -> None:
    f = one(run("workload.client-id", service_accounts=[service_account(client_id=None)],
                pods=[pod(client_id=None)]))
    assert f.status == Status.FAIL
    assert f.summary == (f"{NS}/{SA}: no {WI_CLIENT_ID} annotation: AZURE_CLIENT_ID is not "
                         "injected.")
    assert commands(f) == [f"wi bind {SA} IDENTITY -n {NS}", RECREATE]


def test_client_id_empty_says_so() -> None:
    f = one(run("workload.client-id", service_accounts=[service_account(client_id="")],
                pods=[pod(client_id=None)]))
    assert f.status == Status.FAIL and "annotation is empty" in f.summary


# -- workload.tenant-id ---------------------------------------------------------------------------

def tenant_run(value: str | None, **facts):
    sa = service_account(tenant_id=value)
    return one(run("workload.tenant-id", service_accounts=[sa], pods=[pod()], **facts))


@covers("workload.tenant-id")
def test_no_tenant_annotation_uses_the_webhooks_tenant() -> None:
    f = tenant_run(None)
    assert f.status == Status.OK and "the webhook's tenant applies" in f.summary


def test_tenant_annotation_of_the_identitys_tenant() -> None:
    f = tenant_run(TENANT, identities=[identity()])
    assert f.status == Status.OK and f.summary == f"{NS}/{SA}: tenant-id {TENANT}."


def test_tenant_as_a_domain_name_is_accepted_with_a_hint() -> None:
    f = tenant_run("contoso.onmicrosoft.com", identities=[identity()])
    assert f.status == Status.OK and "a domain name, which Entra accepts" in f.summary


@covers("workload.tenant-id", 11)
def test_tenant_of_another_directory_fails_with_the_identitys_tenant() -> None:
    f = tenant_run(OTHER_TENANT, identities=[identity()])
    assert f.status == Status.FAIL
    assert f"names tenant {OTHER_TENANT}, but the identity lives in tenant {TENANT}" in f.summary
    assert "AADSTS700016" in f.summary
    assert (f.evidence.expected, f.evidence.actual) == (TENANT, {WI_TENANT_ID: OTHER_TENANT})
    assert commands(f) == [f"kubectl annotate sa {SA} -n {NS} {WI_TENANT_ID}={TENANT} "
                           "--overwrite", RECREATE]


@covers("workload.tenant-id", 11)
def test_malformed_tenant_fails() -> None:
    f = tenant_run("contoso tenant", identities=[identity()])
    assert f.status == Status.FAIL
    assert "'contoso tenant' is not a tenant id or domain" in f.summary
    assert "AADSTS900023" in f.summary


def test_malformed_tenant_without_the_identities_says_to_remove_it() -> None:
    # identities_by_client_id could not be read: the check still judges the value itself
    f = tenant_run("contoso tenant")
    assert f.status == Status.FAIL
    assert f.evidence.expected.startswith("a tenant GUID or domain name")
    assert commands(f)[0] == f"kubectl annotate sa {SA} -n {NS} {WI_TENANT_ID}-"
    assert "remove it" in f.remediation.text


def test_tenant_of_another_directory_cannot_be_told_without_the_identities() -> None:
    assert tenant_run(OTHER_TENANT).status == Status.OK


@covers("workload.tenant-id", 42)
def test_empty_tenant_annotation_fails() -> None:
    f = tenant_run("", identities=[identity()])
    assert f.status == Status.FAIL
    assert "is empty: AZURE_TENANT_ID is not injected at all" in f.summary
    assert commands(f)[0] == (f"kubectl annotate sa {SA} -n {NS} {WI_TENANT_ID}={TENANT} "
                              "--overwrite")


def test_tenant_under_a_near_miss_key_warns() -> None:
    typo = "azure.workload.identity/tenantId"
    sa = service_account(annotations={typo: TENANT})
    f = one(run("workload.tenant-id", service_accounts=[sa], pods=[pod()]))
    assert f.status == Status.WARN and "wrong key" in f.summary
    assert commands(f) == [f"kubectl annotate sa {SA} -n {NS} {typo}-"]


# -- workload.token-expiration --------------------------------------------------------------------

@covers("workload.token-expiration")
def test_default_token_lifetime() -> None:
    f = one(run("workload.token-expiration", service_accounts=[service_account()],
                pods=[pod()]))
    assert f.status == Status.OK and "default token lifetime (3600 s)" in f.summary


def test_token_lifetime_in_range() -> None:
    sa = service_account(annotations={EXPIRATION: "86400"})
    f = one(run("workload.token-expiration", service_accounts=[sa], pods=[pod()]))
    assert f.status == Status.OK and "86400 s" in f.summary


@covers("workload.token-expiration", 41)
def test_token_lifetime_out_of_range_on_the_service_account() -> None:
    sa = service_account(annotations={EXPIRATION: "600"})
    f = one(run("workload.token-expiration", service_accounts=[sa]))
    assert f.status == Status.FAIL
    assert f"serviceaccount {NS}/{SA}: {EXPIRATION} 600 is outside 3600-86400" in f.summary
    assert "token expiration ... not valid" in f.summary
    assert (f.evidence.expected, f.evidence.actual) == ("3600..86400", "600")
    assert commands(f) == [f"kubectl annotate sa {SA} -n {NS} {EXPIRATION}=3600 --overwrite"]


@covers("workload.token-expiration", 41)
def test_token_lifetime_not_a_number_on_a_pod_template() -> None:
    d = deployment("web", template_annotations={EXPIRATION: "1h"})
    f = one(run("workload.token-expiration", service_accounts=[service_account()],
                deployments=[d]))
    assert f.status == Status.FAIL
    assert f"deployment {NS}/web: {EXPIRATION} '1h' is not a whole number" in f.summary
    (patch,) = commands(f)
    assert patch.startswith(f"kubectl patch deployment web -n {NS} --type=merge -p '")
    assert json.loads(patch.split(" -p ", 1)[1].strip("'")) == {
        "spec": {"template": {"metadata": {"annotations": {EXPIRATION: "3600"}}}}}


def test_token_lifetime_on_a_bare_pod_is_fixed_and_the_pod_recreated() -> None:
    # not labelled, so the webhook never saw (and never refused) it
    bare = pod(labelled=False, annotations={EXPIRATION: "90000"})
    f = one(run("workload.token-expiration", service_accounts=[service_account()],
                pods=[bare]))
    assert f.status == Status.FAIL
    assert commands(f) == [f"kubectl annotate pod worker -n {NS} {EXPIRATION}=3600 --overwrite",
                           RECREATE]
