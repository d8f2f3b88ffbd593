"""`wi bind` / `wi unbind` on identities shared by namespaces, clusters and subscriptions: every
write touches only the trust, annotation or role assignment the command names (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.lab.kube import scenarios
from wi_cli.lab.kube.aks import add_aks_cluster

NS = "demo"
ID2 = "wi-lab-identity-2"
CLIENT_ID = "azure.workload.identity/client-id"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The healthy lab plus a second AKS cluster (its own issuer), a second identity, and a
    second subscription holding an identity with the first one's name."""
    folder = tmp_path_factory.mktemp("bind-safety")
    with seeded_lab("healthy", folder) as world:
        lab, seeded = world["lab"], world["seeded"]
        az = lab.azure
        cluster2 = add_aks_cluster(lab, seeded.subscription_id, seeded.resource_group,
                                   "wi-lab-aks-2")
        cluster2.store.create("namespaces", None, {"metadata": {"name": NS}})
        world["cluster2"] = cluster2
        world["issuer2"] = cluster2.aks.record.issuer_url
        world["kubeconfig2"] = str(cluster2.write_kubeconfig(folder / "kubeconfig2"))
        world["identity2"] = az.add_identity(seeded.subscription_id, seeded.resource_group, ID2)
        sub2 = az.add_subscription(seeded.tenant_id, display_name="second")
        az.add_role_assignment(f"/subscriptions/{sub2.subscription_id}", "Owner",
                               seeded.operator.object_id)
        az.add_resource_group(sub2.subscription_id, seeded.resource_group)
        world["twin"] = az.add_identity(sub2.subscription_id, seeded.resource_group,
                                        scenarios.IDENTITY_NAME)
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"],
                                             world["kubeconfig"]))


def trusts(world: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str, tuple[str, ...]]]:
    """Every federated credential in the lab: (identity id, name) -> (issuer, subject, audiences)."""
    return {(ident.id.lower(), f.name.lower()): (f.issuer, f.subject, tuple(f.audiences))
            for ident in world["lab"].azure.identities.values() for f in ident.fics.values()}


def of(world: dict[str, Any], ident: Any, subject: str) -> list[Any]:
    return [f for f in world["lab"].azure.identities[ident.id.lower()].fics.values()
            if f.subject == subject]


def make_sa(world: dict[str, Any], name: str, ns: str = NS, cluster: Any = None,
            annotations: dict[str, str] | None = None) -> None:
    store = (cluster or world["seeded"].cluster).store
    if store.try_get("namespaces", None, ns) is None:
        store.create("namespaces", None, {"metadata": {"name": ns}})
    store.create("serviceaccounts", ns, {"metadata": {"name": name, "namespace": ns,
                                                      "annotations": annotations or {}}})


def annotations(world: dict[str, Any], name: str, ns: str = NS, cluster: Any = None) -> dict:
    store = (cluster or world["seeded"].cluster).store
    return store.get("serviceaccounts", ns, name)["metadata"].get("annotations") or {}


def subject(sa: str, ns: str = NS) -> str:
    return f"system:serviceaccount:{ns}:{sa}"


def changed(before: dict, after: dict) -> set:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


# -- names are handles -----------------------------------------------------------------------------

def test_service_accounts_whose_default_names_collide_keep_both_trusts(world, env, wi) -> None:
    ident = world["seeded"].identity
    make_sa(world, "c", ns="a-b")
    make_sa(world, "b-c", ns="a")
    assert wi("bind", "c", scenarios.IDENTITY_NAME, "-n", "a-b", "-o", "json").code == 0
    first = of(world, ident, subject("c", "a-b"))
    assert [f.name for f in first] == ["a-b-c"]
    before = trusts(world)
    run = wi("bind", "b-c", scenarios.IDENTITY_NAME, "-n", "a", "-o", "json")
    doc = run.json
    assert run.code == 0
    step = doc["data"]["steps"][0]
    assert (step["action"], step["status"]) == ("create", "applied")
    assert re.fullmatch(r"a-b-c-[0-9a-f]{8}", step["name"])
    after = trusts(world)
    assert changed(before, after) == {(ident.id.lower(), step["name"])}
    assert of(world, ident, subject("c", "a-b"))[0].name == "a-b-c"  # untouched


def test_a_name_held_by_another_trust_is_refused(world, env, wi) -> None:
    make_sa(world, "holder")
    make_sa(world, "named")
    assert wi("bind", "holder", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    before = trusts(world)
    run = wi("bind", "named", scenarios.IDENTITY_NAME, "-n", NS,
             "--name", f"{NS.upper()}-HOLDER", "-o", "json")  # ARM names ignore case
    doc = run.json
    assert run.code == 5
    assert "already holds another trust" in doc["errors"][0]["message"]
    assert subject("holder") in doc["errors"][0]["message"]
    assert trusts(world) == before and CLIENT_ID not in annotations(world, "named")


def test_an_existing_trust_keeps_its_name(world, env, wi) -> None:
    make_sa(world, "keeps")
    assert wi("bind", "keeps", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    run = wi("bind", "keeps", scenarios.IDENTITY_NAME, "-n", NS,
             "--name", "another-name", "-o", "json")
    doc = run.json
    assert run.code == 0
    assert doc["data"]["steps"][0]["name"] == f"{NS}-keeps"
    assert any("names cannot be changed" in n for n in doc["data"]["notes"])


# -- several clusters -------------------------------------------------------------------------------

def test_a_second_cluster_adds_a_trust_and_unbind_removes_only_its_own(world, env, wi) -> None:
    ident, seeded = world["seeded"].identity, world["seeded"]
    make_sa(world, "twice")
    make_sa(world, "twice", cluster=world["cluster2"])
    assert wi("bind", "twice", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    run = wi("bind", "twice", scenarios.IDENTITY_NAME, "-n", NS,
             "--kubeconfig", world["kubeconfig2"], "-o", "json")
    doc = run.json
    assert run.code == 0 and doc["data"]["steps"][0]["action"] == "create"
    both = {f.issuer for f in of(world, ident, subject("twice"))}
    assert both == {seeded.issuer_url, world["issuer2"]}

    before = trusts(world)
    run = wi("unbind", "twice", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    assert [f.issuer for f in of(world, ident, subject("twice"))] == [world["issuer2"]]
    assert len(changed(before, trusts(world))) == 1
    assert CLIENT_ID not in annotations(world, "twice")
    assert annotations(world, "twice", cluster=world["cluster2"])[CLIENT_ID] == ident.client_id
    # the other cluster's pods still get tokens: doctor's live exchange on cluster 2
    run = wi("doctor", "-n", NS, "--service-account", "twice",
             "--kubeconfig", world["kubeconfig2"], "-o", "json")
    doc = run.json
    live = [f for f in doc["findings"] if f["id"] == "live.token-exchange"]
    assert live and live[0]["status"] == "ok", live


def test_unbinding_a_deleted_clusters_issuer_touches_azure_only(world, env, wi) -> None:
    lab, ident = world["lab"], world["seeded"].identity
    make_sa(world, "gone")
    assert wi("bind", "gone", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    old = "https://oidc.deleted.example/tenant/cluster/"
    lab.azure.add_fic(lab.azure.identities[ident.id.lower()], "gone-old-cluster", old,
                      subject("gone"))
    before = trusts(world)
    run = wi("unbind", "gone", scenarios.IDENTITY_NAME, "-n", NS, "--issuer", old, "-o", "json")
    doc = run.json
    assert run.code == 0
    assert changed(before, trusts(world)) == {(ident.id.lower(), "gone-old-cluster")}
    assert [s["object"] for s in doc["data"]["steps"]] == ["FederatedIdentityCredential"]
    assert any("only Azure is touched" in n for n in doc["data"]["notes"])
    assert annotations(world, "gone")[CLIENT_ID] == ident.client_id


def test_all_issuers_is_explicit_listed_and_confirmed(world, env, wi) -> None:
    ident = world["seeded"].identity
    make_sa(world, "every")
    make_sa(world, "every", cluster=world["cluster2"])
    assert wi("bind", "every", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    assert wi("bind", "every", scenarios.IDENTITY_NAME, "-n", NS,
              "--kubeconfig", world["kubeconfig2"], "-o", "json").code == 0
    run = wi("unbind", "every", scenarios.IDENTITY_NAME, "-n", NS,
             "--all-issuers", "--dry-run", "-o", "json")
    doc = run.json
    assert run.code == 0
    listed = [s["detail"] for s in doc["data"]["steps"] if s["action"] == "delete"]
    assert len(listed) == 2 and any(world["issuer2"] in d for d in listed)
    before = trusts(world)
    run = wi("unbind", "every", scenarios.IDENTITY_NAME, "-n", NS, "--all-issuers", "-o", "json")
    doc = run.json
    assert run.code == 2 and "pass -y" in " ".join(doc["errors"][0]["remediation"])
    assert trusts(world) == before
    run = wi("unbind", "every", scenarios.IDENTITY_NAME, "-n", NS, "--all-issuers",
             "-y", "-o", "json")
    assert run.code == 0 and of(world, ident, subject("every")) == []


# -- annotations and identities -------------------------------------------------------------------

def test_unbind_leaves_annotations_that_name_another_identity(world, env, wi) -> None:
    ident, ident2 = world["seeded"].identity, world["identity2"]
    make_sa(world, "moved")
    assert wi("bind", "moved", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    assert wi("bind", "moved", ID2, "-n", NS, "-o", "json").code == 0  # annotation now names identity 2
    run = wi("unbind", "moved", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    assert run.code == 0
    assert of(world, ident, subject("moved")) == []
    assert annotations(world, "moved")[CLIENT_ID] == ident2.client_id
    assert len(of(world, ident2, subject("moved"))) == 1


def test_rebinding_says_the_old_identity_still_trusts_and_replace_removes_only_that(
        world, env, wi) -> None:
    seeded, ident, ident2 = world["seeded"], world["seeded"].identity, world["identity2"]
    make_sa(world, "switch")
    make_sa(world, "switch", cluster=world["cluster2"])
    assert wi("bind", "switch", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    assert wi("bind", "switch", scenarios.IDENTITY_NAME, "-n", NS,
              "--kubeconfig", world["kubeconfig2"], "-o", "json").code == 0
    run = wi("bind", "switch", ID2, "-n", NS, "--dry-run", "-o", "json")
    doc = run.json
    assert run.code == 0
    assert any(f"{scenarios.IDENTITY_NAME}" in n and "--replace" in n for n in doc["data"]["notes"])
    before = trusts(world)
    run = wi("bind", "switch", ID2, "-n", NS, "--replace", "-o", "json")
    assert run.code == 2 and trusts(world) == before  # two trusts change: needs -y
    run = wi("bind", "switch", ID2, "-n", NS, "--replace", "-y", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    assert [f.issuer for f in of(world, ident, subject("switch"))] == [world["issuer2"]]
    assert [f.issuer for f in of(world, ident2, subject("switch"))] == [seeded.issuer_url]
    assert annotations(world, "switch")[CLIENT_ID] == ident2.client_id
    assert len(changed(before, trusts(world))) == 2


def test_a_resource_id_is_looked_up_in_its_own_subscription(world, env, wi) -> None:
    twin, ident = world["twin"], world["seeded"].identity
    make_sa(world, "twin-sa")
    before = trusts(world)
    run = wi("bind", "twin-sa", twin.id, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"]
    assert doc["data"]["identity"]["subscription"] == twin.subscription_id
    assert changed(before, trusts(world)) == {(twin.id.lower(), f"{NS}-twin-sa")}
    assert of(world, ident, subject("twin-sa")) == []
    assert annotations(world, "twin-sa")[CLIENT_ID] == twin.client_id


# -- bad input and unreachable services change nothing ----------------------------------------------

def test_unknown_role_exits_3_and_changes_nothing(world, env, wi) -> None:
    seeded = world["seeded"]
    make_sa(world, "norole")
    before = trusts(world)
    run = wi("bind", "norole", scenarios.IDENTITY_NAME, "-n", NS, "--role",
             "NoSuchRole", "--scope", f"/subscriptions/{seeded.subscription_id}", "-o", "json")
    doc = run.json
    assert run.code == 3 and "No role named 'NoSuchRole'" in doc["errors"][0]["message"]
    assert trusts(world) == before and CLIENT_ID not in annotations(world, "norole")


def _unreachable_kubeconfig(world: dict[str, Any], folder: Path) -> str:
    text = Path(world["kubeconfig"]).read_text()
    dead = re.sub(r"server: https://127\.0\.0\.1:\d+", "server: https://127.0.0.1:9", text)
    path = folder / "dead-kubeconfig"
    path.write_text(dead)
    return str(path)


def test_an_unreachable_api_server_stops_bind_and_unbind_before_any_write(
        world, env, wi, tmp_path) -> None:
    make_sa(world, "down")
    assert wi("bind", "down", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json").code == 0
    make_sa(world, "down2")
    dead = _unreachable_kubeconfig(world, tmp_path)
    issuer = world["seeded"].issuer_url
    before = trusts(world)
    run = wi("bind", "down2", scenarios.IDENTITY_NAME, "-n", NS, "--issuer", issuer,
             "--kubeconfig", dead, "-o", "json")
    doc = run.json
    assert run.code == 4 and "Could not reach" in doc["errors"][0]["message"]
    run = wi("unbind", "down", scenarios.IDENTITY_NAME, "-n", NS,
             "--kubeconfig", dead, "-o", "json")
    assert run.code == 4
    run = wi("unbind", "down", scenarios.IDENTITY_NAME, "-n", NS,
             "--issuer", issuer, "--kubeconfig", dead, "-o", "json")
    assert run.code == 4
    assert trusts(world) == before


def test_an_operator_without_credential_write_is_refused_before_any_write(
        world, env, wi, monkeypatch) -> None:
    lab, seeded = world["lab"], world["seeded"]
    reader = lab.azure.add_service_principal(seeded.tenant_id, "reader-only")
    lab.azure.add_role_assignment(f"/subscriptions/{seeded.subscription_id}", "Reader",
                                  reader.object_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", reader.client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", reader.secret or "")
    make_sa(world, "readonly")
    before = trusts(world)
    run = wi("bind", "readonly", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    doc = run.json
    assert run.code == 4
    message = doc["errors"][0]["message"]
    assert "federatedIdentityCredentials/write" in message and "nothing was changed" in message
    assert trusts(world) == before and CLIENT_ID not in annotations(world, "readonly")


# -- roles --------------------------------------------------------------------------------------------

def test_unbind_removes_the_roles_it_is_given_and_asks_when_other_trusts_remain(
        world, env, wi) -> None:
    lab, seeded, ident2 = world["lab"], world["seeded"], world["identity2"]
    scope = f"/subscriptions/{seeded.subscription_id}/resourceGroups/{seeded.resource_group}"
    role = ["--role", "Storage Blob Data Reader", "--scope", scope]
    guid = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"

    def assigned() -> int:
        return len([ra for ra in lab.azure.assignments_for(ident2.principal_id)
                    if ra.role_guid == guid])

    make_sa(world, "roled")
    make_sa(world, "roled-too")
    assert wi("bind", "roled", ID2, "-n", NS, *role, "-o", "json").code == 0
    assert wi("bind", "roled-too", ID2, "-n", NS, "-o", "json").code == 0
    assert assigned() == 1
    before = trusts(world)
    run = wi("unbind", "roled", ID2, "-n", NS, *role, "-o", "json")
    doc = run.json
    assert run.code == 2 and "may rely on the role assignments" in doc["errors"][0]["message"]
    assert assigned() == 1 and trusts(world) == before
    run = wi("unbind", "roled", ID2, "-n", NS, *role, "-y", "-o", "json")
    assert run.code == 0
    assert assigned() == 0 and len(changed(before, trusts(world))) == 1
