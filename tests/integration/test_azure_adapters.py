"""The operator-side Azure plumbing (cloud, DefaultAzureCredential, SDK clients, error mapping)
against the lab, with the real SDKs."""

from __future__ import annotations

import os

import time
from typing import Iterator

import pytest

from wi_cli.adapters.azure.clients import AzureClients
from wi_cli.adapters.azure.errors import azure_errors
from wi_cli.adapters.web import cloud as cloud_of
from wi_cli.core.errors import AzureError, AzureForbidden, CredentialError, ExitCode
from wi_cli.lab.azure_state import ManagedCluster
from wi_cli.lab.runtime import Lab


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        t = lab.azure.add_tenant()
        sub = lab.azure.add_subscription(t)
        lab.azure.add_resource_group(sub.subscription_id, "rg1")
        lab.azure.add_cluster(ManagedCluster(sub.subscription_id, "rg1", "aks1", "westeurope",
                                             issuer_url="https://issuer.example/t/g/"))
        lab.azure.add_identity(sub.subscription_id, "rg1", "id1")
        owner = lab.azure.add_service_principal(t, "owner")
        lab.azure.add_role_assignment(sub.id, "Owner", owner.object_id)
        reader = lab.azure.add_service_principal(t, "reader")
        lab.azure.add_role_assignment(sub.id, "Reader", reader.object_id)
        lab.seed = {"tenant": t, "sub": sub.subscription_id, "owner": owner, "reader": reader}  # type: ignore[attr-defined]
        yield lab


def operator(lab: Lab, monkeypatch: pytest.MonkeyPatch, who: str = "owner",
             secret: str | None = None, **overrides: object) -> AzureClients:
    sp = lab.seed[who]  # type: ignore[attr-defined]
    monkeypatch.setenv("AZURE_TENANT_ID", lab.seed["tenant"])  # type: ignore[attr-defined]
    monkeypatch.setenv("AZURE_CLIENT_ID", sp.client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", secret or sp.secret)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(lab.ca_file))
    cloud = cloud_of(lab.metadata_url, os.environ)
    return AzureClients(cloud, lab.seed["sub"], env=os.environ, **overrides)  # type: ignore[attr-defined]


def test_lab_is_a_custom_cloud_with_the_azure_cli_scope_rule(lab: Lab,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(lab.ca_file))
    cloud = cloud_of(lab.metadata_url, os.environ)
    assert cloud.arm_endpoint == lab.arm_endpoint
    assert cloud.authority_host == lab.authority_host
    assert cloud.arm_scope == lab.arm_audience + "/.default"
    assert not cloud.well_known_authority


def test_operator_reads_subscriptions_clusters_and_identities(lab: Lab,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    clients = operator(lab, monkeypatch)
    with azure_errors("reading the lab"):
        subs = [s.subscription_id for s in clients.subscriptions.subscriptions.list()]
        mc = clients.containerservice.managed_clusters.get("rg1", "aks1")
        ids = [i.name for i in clients.msi.user_assigned_identities.list_by_resource_group("rg1")]
    assert subs == [lab.seed["sub"]]  # type: ignore[attr-defined]
    assert mc.oidc_issuer_profile.issuer_url == "https://issuer.example/t/g/"
    assert ids == ["id1"]


def test_wrong_secret_is_a_credentials_error_without_the_secret(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    clients = operator(lab, monkeypatch, secret="not-the-secret-value")
    with pytest.raises(CredentialError) as info:
        with azure_errors("listing subscriptions"):
            list(clients.subscriptions.subscriptions.list())
    assert info.value.exit_code == ExitCode.CONFIG
    assert "AADSTS7000215" in info.value.message
    assert "not-the-secret-value" not in info.value.message


def test_missing_permission_names_the_action(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.mgmt.msi.models import FederatedIdentityCredential

    clients = operator(lab, monkeypatch, who="reader")
    fic = FederatedIdentityCredential(issuer="https://issuer.example/t/g/",
                                      subject="system:serviceaccount:a:b",
                                      audiences=["api://AzureADTokenExchange"])
    with pytest.raises(AzureForbidden) as info:
        with azure_errors("writing the federated credential"):
            clients.msi.federated_identity_credentials.create_or_update("rg1", "id1", "fic1", fic)
    assert info.value.exit_code == ExitCode.REMOTE
    assert "federatedIdentityCredentials/write" in info.value.message
    assert info.value.remediation


def test_throttling_within_the_retry_budget_succeeds_and_honours_retry_after(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    clients = operator(lab, monkeypatch, retry_backoff_factor=0.01)
    prefix = f"/subscriptions/{lab.seed['sub']}/resourceGroups/rg1/providers/Microsoft.ContainerService"  # type: ignore[attr-defined]
    lab.arm.faults.fail_next(prefix, count=1, status=429, retry_after=1)
    start = time.monotonic()
    with azure_errors("reading the cluster"):
        assert clients.containerservice.managed_clusters.get("rg1", "aks1").name == "aks1"
    assert time.monotonic() - start >= 0.9


@pytest.mark.parametrize("status, fragment", [(429, "throttling"), (500, "failed with 500")])
def test_faults_beyond_the_retry_policy_end_in_one_sentence(
        lab: Lab, monkeypatch: pytest.MonkeyPatch, status: int, fragment: str) -> None:
    clients = operator(lab, monkeypatch, retry_total=2, retry_backoff_factor=0.01)
    prefix = f"/subscriptions/{lab.seed['sub']}/resourceGroups/rg1/providers/Microsoft.ManagedIdentity"  # type: ignore[attr-defined]
    lab.arm.faults.fail_next(prefix, count=3, status=status, retry_after=0)
    try:
        with pytest.raises(AzureError) as info:
            with azure_errors("reading the identity"):
                clients.msi.user_assigned_identities.get("rg1", "id1")
    finally:
        lab.arm.faults.clear()
    assert info.value.exit_code == ExitCode.REMOTE
    assert fragment in info.value.message and "retries ran out" in info.value.message


def test_unreachable_arm_is_a_remote_error(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    clients = operator(lab, monkeypatch, retry_total=0)
    clients.cloud = replace(clients.cloud, arm_endpoint="https://127.0.0.1:9/")
    with pytest.raises(AzureError) as info:
        with azure_errors("reading the cluster"):
            clients.containerservice.managed_clusters.get("rg1", "aks1")
    assert "Could not reach Azure" in info.value.message
