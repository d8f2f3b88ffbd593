"""`wi provision`'s preflight against the lab: the ARM reads (permissions, resource providers,
locations) with the real SDK pipeline, and the command refusing before Terraform starts.

Terraform is a stub on PATH that records its invocations: the refusals must leave it untouched,
and a passing (or skipped) preflight must hand over to it."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from wi_cli.adapters.azure import preflight as arm
from wi_cli.adapters.azure.clients import AzureClients
from wi_cli.adapters.web import cloud as cloud_of
from wi_cli.core.config import state_path
from wi_cli.core.errors import AzureForbidden
from wi_cli.lab.kube import scenarios
from wi_cli.lab.runtime import Lab

ROLE_WRITE = "Microsoft.Authorization/roleAssignments/write"


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    with Lab() as lab:
        seeded = scenarios.seed(lab, "empty")  # the operator is Owner of the subscription
        az, sub = lab.azure, f"/subscriptions/{seeded.subscription_id}"
        contributor = az.add_service_principal(seeded.tenant_id, "wi-contributor")
        az.add_role_assignment(sub, "Contributor", contributor.object_id)
        reader = az.add_service_principal(seeded.tenant_id, "wi-reader")
        az.add_role_assignment(sub, "Reader", reader.object_id)
        yield {"lab": lab, "seeded": seeded, "owner": seeded.operator,
               "contributor": contributor, "reader": reader}


@pytest.fixture()
def unregistered(world: dict[str, Any]) -> Iterator[Any]:
    """Mark resource providers of the lab subscription NotRegistered for one test."""
    lab, sub = world["lab"], world["seeded"].subscription_id
    marked: list[str] = []

    def mark(namespace: str, state: str = "NotRegistered") -> None:
        lab.azure.set_provider_state(sub, namespace, state)
        marked.append(namespace)
    yield mark
    for namespace in marked:
        lab.azure.set_provider_state(sub, namespace, "Registered")


def sign_in(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str = "owner",
            subscription: bool = True) -> None:
    lab, seeded, sp = world["lab"], world["seeded"], world[who]
    values = {"WI_CLOUD": lab.metadata_url, "AZURE_TENANT_ID": seeded.tenant_id,
              "AZURE_CLIENT_ID": sp.client_id, "AZURE_CLIENT_SECRET": sp.secret,
              "REQUESTS_CA_BUNDLE": str(lab.ca_file)}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    if subscription:
        monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", seeded.subscription_id)


def clients(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str = "owner") -> AzureClients:
    sign_in(world, monkeypatch, who)
    return AzureClients(cloud_of(world["lab"].metadata_url, os.environ),
                        world["seeded"].subscription_id, env=os.environ)


@pytest.fixture()
def terraform_stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `terraform` first on PATH that only records how it was called (and fails)."""
    calls = tmp_path / "terraform-calls.txt"
    stub = tmp_path / "bin" / "terraform"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\nexit 1\n')
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{stub.parent}{os.pathsep}{os.environ['PATH']}")
    return calls


def workdir() -> Path:
    return Path(os.environ["WI_STATE_DIR"]) / "terraform"


# -- the adapter on the lab ----------------------------------------------------------------------

def test_permissions_at_the_subscription_are_each_roles_block(world, monkeypatch) -> None:
    sub = f"/subscriptions/{world['seeded'].subscription_id}"
    owner = arm.permissions_at(clients(world, monkeypatch), sub)
    assert [b.actions for b in owner] == [("*",)]
    contributor = arm.permissions_at(clients(world, monkeypatch, "contributor"), sub)
    (block,) = contributor
    assert block.actions == ("*",) and "Microsoft.Authorization/*/Write" in block.not_actions


def test_provider_states_read_each_namespace(world, monkeypatch, unregistered) -> None:
    unregistered("Microsoft.PolicyInsights")
    azure = clients(world, monkeypatch, "reader")  # any reader may look
    states = arm.provider_states(azure, world["seeded"].subscription_id,
                                 ["Microsoft.ContainerService", "Microsoft.PolicyInsights",
                                  "microsoft.keyvault", "Microsoft.NoSuchThing"])
    assert states == {"Microsoft.ContainerService": "Registered",
                      "Microsoft.PolicyInsights": "NotRegistered",
                      "microsoft.keyvault": "Registered", "Microsoft.NoSuchThing": None}


def test_locations_and_subscriptions(world, monkeypatch) -> None:
    azure = clients(world, monkeypatch)
    names = arm.location_names(azure, world["seeded"].subscription_id)
    assert "westeurope" in names and "eastus" in names
    assert arm.enabled_subscriptions(azure) == [world["seeded"].subscription_id]


def test_lab_provider_and_location_bodies_have_the_published_shape(world, monkeypatch) -> None:
    """Fields as in azure-rest-api-specs GetProvider.json / GetLocations.json (2022-12-01)."""
    from azure.core.rest import HttpRequest

    azure = clients(world, monkeypatch)
    sub = world["seeded"].subscription_id
    provider = azure.subscriptions.send_request(HttpRequest(
        "GET", f"/subscriptions/{sub}/providers/Microsoft.ContainerService?api-version=2022-09-01")).json()
    assert set(provider) == {"id", "namespace", "registrationState", "registrationPolicy",
                             "resourceTypes"}
    assert provider["id"] == f"/subscriptions/{sub}/providers/Microsoft.ContainerService"
    (rtype,) = provider["resourceTypes"]
    assert rtype["resourceType"] == "managedClusters" and "West Europe" in rtype["locations"]
    listed = azure.subscriptions.send_request(HttpRequest(
        "GET", f"/subscriptions/{sub}/providers?api-version=2021-04-01")).json()
    namespaces = [p["namespace"] for p in listed["value"]]
    assert "Microsoft.Resources" in namespaces and "Microsoft.Storage" in namespaces
    (location,) = [loc for loc in azure.subscriptions.subscriptions.list_locations(sub)
                   if loc.name == "westeurope"]
    assert location.display_name == "West Europe"
    assert location.metadata.paired_region[0].name == "northeurope"
    bad = azure.subscriptions.send_request(HttpRequest(
        "GET", f"/subscriptions/{sub}/providers/Microsoft.Nope?api-version=2022-09-01"))
    assert bad.status_code == 404
    assert bad.json()["error"]["code"] == "InvalidResourceNamespace"
    old = azure.subscriptions.send_request(HttpRequest(
        "GET", f"/subscriptions/{sub}/providers?api-version=2014-01-01"))
    assert old.status_code == 400 and old.json()["error"]["code"] == "InvalidApiVersionParameter"


def test_register_needs_the_register_action_and_answers_registering(world, monkeypatch,
                                                                    unregistered) -> None:
    from azure.core.rest import HttpRequest

    unregistered("Microsoft.PolicyInsights")
    sub = world["seeded"].subscription_id
    url = f"/subscriptions/{sub}/providers/Microsoft.PolicyInsights/register?api-version=2022-09-01"
    refused = clients(world, monkeypatch, "reader").subscriptions.send_request(
        HttpRequest("POST", url))
    assert refused.status_code == 403
    assert "Microsoft.PolicyInsights/register/action" in refused.json()["error"]["message"]
    owner = clients(world, monkeypatch)
    answer = owner.subscriptions.send_request(HttpRequest("POST", url)).json()
    assert answer["registrationState"] == "Registering"
    assert arm.provider_states(owner, sub, ["Microsoft.PolicyInsights"]) == \
        {"Microsoft.PolicyInsights": "Registered"}


def test_permissions_read_without_access_is_a_clear_refusal(world, monkeypatch) -> None:
    lab = world["lab"]
    stranger = lab.azure.add_service_principal(world["seeded"].tenant_id, "wi-stranger")
    world["stranger"] = stranger
    azure = clients(world, monkeypatch, "stranger")
    with pytest.raises(AzureForbidden) as info:
        arm.permissions_at(azure, f"/subscriptions/{world['seeded'].subscription_id}")
    assert "Microsoft.Authorization/permissions/read" in info.value.message


# -- wi provision ----------------------------------------------------------------------------------

def test_contributor_is_refused_before_terraform_runs(world, monkeypatch, wi,
                                                      terraform_stub) -> None:
    sign_in(world, monkeypatch, "contributor")
    run = wi("provision", "-y")
    assert run.code == 4, run.err
    assert ROLE_WRITE in run.err and f"/subscriptions/{world['seeded'].subscription_id}" in run.err
    assert "User Access Administrator" in run.err and "--skip-preflight" in run.err
    assert run.out == ""
    assert not terraform_stub.exists(), "terraform was started"
    assert not workdir().exists() and not state_path(os.environ).exists()


def test_refusal_in_json_carries_the_preflight(world, monkeypatch, wi, terraform_stub) -> None:
    sign_in(world, monkeypatch, "contributor")
    run = wi("provision", "-y", "-o", "json")
    doc = run.json
    assert run.code == 4 and doc["exit_code"] == 4 and doc["status"] == "error"
    (error,) = doc["errors"]
    assert error["type"] == "PreflightRefused" and ROLE_WRITE in error["message"]
    preflight = doc["data"]["preflight"]
    assert preflight["status"] == "failed"
    assert preflight["problems"] == [error["message"].split(": ", 1)[1].rstrip(".")]
    denied = [p["action"] for p in preflight["permissions"] if not p["allowed"]]
    assert denied == [ROLE_WRITE]
    assert all(p["ok"] for p in preflight["resource_providers"])
    assert preflight["region"] == {"name": "westeurope", "available": True, "suggestions": []}
    assert not terraform_stub.exists()


def test_unregistered_provider_is_named_with_the_register_command(world, monkeypatch, wi,
                                                                  terraform_stub,
                                                                  unregistered) -> None:
    unregistered("Microsoft.PolicyInsights")
    unregistered("Microsoft.ContainerRegistry", "Registering")
    sign_in(world, monkeypatch)
    run = wi("provision", "-y")
    sub = world["seeded"].subscription_id
    assert run.code == 4, run.err
    assert "resource provider Microsoft.PolicyInsights is NotRegistered" in run.err
    assert "resource provider Microsoft.ContainerRegistry is Registering" in run.err
    assert f"az provider register --namespace Microsoft.PolicyInsights --subscription {sub}" in run.err
    assert ROLE_WRITE not in run.err  # the Owner has every permission
    assert not terraform_stub.exists()


def test_region_the_subscription_lacks_is_refused(world, monkeypatch, wi,
                                                  terraform_stub, tmp_path) -> None:
    sign_in(world, monkeypatch)
    tfvars = tmp_path / "demo.tfvars"
    tfvars.write_text('location = "westeruope"\n')
    run = wi("provision", "-y", "--var-file", str(tfvars))
    assert run.code == 4
    assert "region 'westeruope' is not available" in run.err and "westeurope" in run.err
    assert not terraform_stub.exists()


def test_passing_preflight_hands_over_to_terraform(world, monkeypatch, wi,
                                                   terraform_stub) -> None:
    sign_in(world, monkeypatch, subscription=False)  # the only subscription it can see is used
    run = wi("provision", "-y", "--var", "location=eastus")
    sub = world["seeded"].subscription_id
    assert f"Using subscription {sub}" in run.err
    assert "Preflight passed:" in run.err and "region eastus" in run.err
    assert terraform_stub.read_text().startswith("version -json")
    assert run.code == 3  # the stub is not a usable terraform


def test_plan_only_reports_the_problems_and_plans_anyway(world, monkeypatch, wi,
                                                         terraform_stub) -> None:
    sign_in(world, monkeypatch, "contributor")
    run = wi("provision", "--plan-only")
    assert "Preflight found problems" in run.err and ROLE_WRITE in run.err
    assert "applying it would fail" in run.err
    assert terraform_stub.exists()


def test_skip_preflight_and_other_modules_start_terraform_unchecked(world, monkeypatch, wi,
                                                                    terraform_stub,
                                                                    tmp_path) -> None:
    sign_in(world, monkeypatch, "contributor")
    run = wi("provision", "-y", "--skip-preflight")
    assert "Preflight skipped: --skip-preflight was given." in run.err
    assert ROLE_WRITE not in run.err and terraform_stub.exists()
    module = tmp_path / "mine"
    module.mkdir()
    (module / "main.tf").write_text('resource "terraform_data" "x" {}\n')
    run = wi("provision", "-y", "--module", str(module))
    assert "Preflight skipped:" in run.err and "not the module bundled with wi" in run.err


def test_several_subscriptions_and_none_chosen_is_a_configuration_error(world, monkeypatch,
                                                                        wi,
                                                                        terraform_stub) -> None:
    lab, seeded = world["lab"], world["seeded"]
    other = lab.azure.add_subscription(seeded.tenant_id, display_name="second")
    ra = lab.azure.add_role_assignment(other.id, "Reader", world["owner"].object_id)
    try:
        sign_in(world, monkeypatch, subscription=False)
        run = wi("provision", "-y")
    finally:
        with lab.azure.lock:
            lab.azure.role_assignments.pop(ra.name.lower())
    assert run.code == 3 and "sees 2 enabled subscriptions" in run.err and "--subscription" in run.err
    assert not terraform_stub.exists()


def test_destroy_runs_no_preflight(world, monkeypatch, wi, terraform_stub) -> None:
    sign_in(world, monkeypatch, "reader")
    workdir().mkdir(parents=True)
    (workdir() / "terraform.tfstate").write_text("{}")
    run = wi("provision", "--destroy", "-y")
    assert "Preflight" not in run.err and terraform_stub.exists()


def test_lab_answers_resource_provider_reads_without_a_token_with_401(world) -> None:
    lab, sub = world["lab"], world["seeded"].subscription_id
    resp = requests.get(f"{lab.arm.url}/subscriptions/{sub}/providers?api-version=2022-09-01",
                        verify=str(lab.ca_file), timeout=10)
    assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers


# -- the bundled module, planned by the real azurerm provider against the lab -----------------------

def test_plan_only_plans_the_bundled_module_with_the_real_azurerm(world, monkeypatch, wi,
                                                                   tmp_path) -> None:
    """`wi provision --plan-only` end to end: the preflight, then terraform init (offline, from a
    mirror of tf-validate's provider builds) and plan, with azurerm 4.81.0 authenticating to the
    lab's Entra and reading the lab's ARM (it lists the resource providers, registers none)."""
    from tf_providers import filesystem_mirror, tf_validate

    tf_validate(Path(__file__).resolve().parents[2] / "terraform")  # fills the provider cache
    lab, sub = world["lab"], world["seeded"].subscription_id
    sign_in(world, monkeypatch)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(filesystem_mirror(tmp_path)))
    monkeypatch.setenv("SSL_CERT_FILE", str(lab.ca_file))  # Go's trust store
    monkeypatch.delenv("TF_CLI_ARGS", raising=False)
    logged = len(lab.request_log)

    run = wi("provision", "--plan-only", "-o", "json")
    assert run.code == 0, run.err
    data = run.json["data"]
    assert data["preflight"]["status"] == "ok" and "Preflight passed" in run.err
    planned = {c["address"]: c["action"] for c in data["plan"]["changes"]}
    owner = world["owner"].object_id
    for address in ("azurerm_kubernetes_cluster.this", "time_sleep.kv_rbac_propagation",
                    "azurerm_storage_account_queue_properties.this",
                    f'azurerm_role_assignment.kv_secrets_officer["{owner}"]',
                    "azurerm_key_vault_secret.sample", "azurerm_role_assignment.kubelet_acr_pull"):
        assert planned.get(address) == "create", address
    assert data["plan"]["add"] == len(planned) and data["plan"]["warnings"] == []

    calls = [(r.method, r.path.split("?")[0]) for r in lab.request_log[logged:] if r.server == "arm"]
    assert ("GET", f"/subscriptions/{sub}/providers") in calls  # azurerm's registration check
    assert not any(method == "POST" for method, _ in calls)
    assert not state_path(os.environ).exists()
