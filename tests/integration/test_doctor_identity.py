"""`wi doctor`'s identity and rbac layers as a user runs them, against the lab: every broken
state is seeded in its own namespace, service account and identity of one lab, and doctor's
JSON findings are read back (status, evidence, fix)."""

from __future__ import annotations

import re
import time
from typing import Any, Iterator

import pytest

from support import operator_env, set_env
from wi_cli.lab.kube import scenarios
from wi_cli.lab.kube.kubelet import seed_running_pod
from wi_cli.lab.runtime import Lab

CLIENT_ID = "azure.workload.identity/client-id"
AUDIENCE = "api://AzureADTokenExchange"
DEFAULT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


# -- the lab --------------------------------------------------------------------------------------

class World:
    def __init__(self, lab: Lab, seeded: scenarios.Seeded, kubeconfig: str) -> None:
        self.lab, self.seeded, self.kubeconfig = lab, seeded, kubeconfig
        self.store = seeded.cluster.store
        self.issuer = seeded.issuer_url or ""

    def namespace(self, ns: str) -> str:
        if self.store.try_get("namespaces", None, ns) is None:
            self.store.create("namespaces", None, {"metadata": {"name": ns}})
        return ns

    def identity(self, name: str, location: str | None = None, role: str | None = "Reader") -> Any:
        s = self.seeded
        ident = self.lab.azure.add_identity(s.subscription_id, s.resource_group, name, location)
        if role:
            rg = f"/subscriptions/{s.subscription_id}/resourceGroups/{s.resource_group}"
            self.lab.azure.add_role_assignment(rg, role, ident.principal_id)
        return ident

    def fic(self, ident: Any, ns: str, sa: str, *, name: str | None = None,
            issuer: str | None = None, subject: str | None = None,
            audiences: list[str] | None = None, age: float = 3600) -> Any:
        fic = self.lab.azure.add_fic(ident, name or f"{ns}-{sa}", issuer or self.issuer,
                                     subject or f"system:serviceaccount:{ns}:{sa}", audiences)
        fic.created_at = time.time() - age
        return fic

    def service_account(self, ns: str, name: str, client_id: str | None = None) -> None:
        meta: dict[str, Any] = {"name": name, "namespace": ns}
        if client_id:
            meta["annotations"] = {CLIENT_ID: client_id}
        self.store.create("serviceaccounts", ns, {"metadata": meta})

    def bound(self, ns: str, sa: str, **fic: Any) -> Any:
        """A service account annotated with its own identity, which holds one credential."""
        ident = self.identity(f"id-{ns}-{sa}")
        self.service_account(ns, sa, ident.client_id)
        self.fic(ident, ns, sa, **fic)
        return ident


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with Lab() as lab:
        seeded = scenarios.seed(lab, "bound")
        kubeconfig = seeded.cluster.write_kubeconfig(tmp_path_factory.mktemp("doc") / "kc")
        yield World(lab, seeded, str(kubeconfig))


@pytest.fixture()
def env(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, operator_env(world.lab, world.seeded, world.kubeconfig))


def doctor(wi, *argv: str) -> tuple[int, dict[str, Any]]:
    run = wi("doctor", *argv, "-o", "json")
    return run.code, run.json


def found(doc: dict[str, Any], check_id: str, who: str | None = None) -> dict[str, Any]:
    hits = [f for f in doc["findings"] if f["id"] == check_id
            and (who is None or f["summary"].startswith(who))]
    assert len(hits) == 1, (check_id, who, [f["summary"] for f in doc["findings"]
                                            if f["id"] == check_id])
    return hits[0]


def failing(doc: dict[str, Any]) -> set[str]:
    return {f["id"] for f in doc["findings"] if f["status"] in ("fail", "error")}


# -- healthy --------------------------------------------------------------------------------------

def test_healthy_bound_service_account_passes_every_identity_and_rbac_check(world, env,
                                                                           wi) -> None:
    for fic in world.seeded.identity.fics.values():
        fic.created_at = time.time() - 3600  # bound an hour ago
    code, doc = doctor(wi, "-n", "demo", "--no-live")
    assert code == 0, failing(doc)
    who = "demo/wi-lab-sa"
    for check_id in ("identity.client-id", "identity.fic", "identity.fic-propagation",
                     "rbac.role-assignments"):
        assert found(doc, check_id, who)["status"] == "ok", check_id
    assert found(doc, "identity.region")["status"] == "ok"
    assert found(doc, "identity.fic-limit")["summary"].endswith("1 of 20 federated credentials "
                                                                "used.")
    assert found(doc, "identity.issuer-documents")["status"] == "ok"
    assert "Reader on resource group wi-lab-rg" in found(doc, "rbac.role-assignments")["summary"]
    live = [f for f in doc["findings"] if f["layer"] == "live"]
    assert live and {f["status"] for f in live} == {"skip"}


def test_list_checks_names_the_identity_rbac_and_live_checks(world, env, wi) -> None:
    code, doc = doctor(wi, "--list-checks")
    assert code == 0
    listed = {c["id"]: c for c in doc["data"]["checks"]}
    for check_id, mode in (("identity.client-id", 9), ("identity.fic", 12),
                           ("identity.fic", 14), ("identity.fic", 15), ("identity.fic", 10),
                           ("identity.fic-limit", 19), ("identity.region", 20),
                           ("identity.fic-propagation", 17), ("identity.issuer-documents", 39),
                           ("identity.token-source", 16), ("rbac.role-assignments", 21),
                           ("live.signing-key", 40), ("live.token-claims", 28)):
        assert mode in listed[check_id]["failure_modes"], check_id
    assert listed["live.token-exchange"]["live"] is True


# -- the client id --------------------------------------------------------------------------------

def test_principal_id_in_the_annotation_names_the_identity_it_belongs_to(world, env,
                                                                          wi) -> None:
    ns = world.namespace("wrong-id")
    ident = world.identity("id-principal")
    world.service_account(ns, "app", ident.principal_id)
    code, doc = doctor(wi, "-n", ns, "--service-account", "app")
    assert code == 1
    f = found(doc, "identity.client-id", f"{ns}/app")
    assert f["status"] == "fail"
    assert "principalId" in f["summary"] and "id-principal" in f["summary"]
    assert "AADSTS700016" in f["summary"]
    assert f["evidence"] == {"expected": ident.client_id, "actual": ident.principal_id}
    assert f"wi bind app id-principal -n {ns}" in f["remediation"]["commands"]
    live = found(doc, "live.token-exchange", f"{ns}/app")
    assert live["status"] == "fail" and "AADSTS700016" in live["summary"]
    before = _all_credentials(world)
    for command in f["remediation"]["commands"]:  # the fix, pasted as printed
        assert wi(*command.split()[1:]).code == 0, command
    code, doc = doctor(wi, "-n", ns, "--service-account", "app", "--no-live",
                       "--check", "identity.client-id", "--check", "identity.fic")
    assert code == 0, failing(doc)
    after = _all_credentials(world)
    assert {k for k in after if after.get(k) != before.get(k)} == {("id-principal", f"{ns}-app")}


def test_unknown_client_id_fails_with_700016_expected(world, env, wi) -> None:
    ns = world.namespace("unknown-id")
    world.service_account(ns, "app", "00000000-1111-2222-3333-444444444444")
    code, doc = doctor(wi, "-n", ns, "--service-account", "app", "--no-live")
    assert code == 1
    f = found(doc, "identity.client-id", f"{ns}/app")
    assert f["status"] == "fail" and "AADSTS700016" in f["summary"]
    assert f["evidence"]["actual"] == "00000000-1111-2222-3333-444444444444"
    assert "--subscription" in f["remediation"]["text"]


# -- federated credentials ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fic_run(world: World) -> dict[str, Any]:
    """One namespace, one service account + identity per way a credential can be wrong."""
    ns = world.namespace("fics")
    issuer = world.issuer
    world.bound(ns, "good")
    world.bound(ns, "no-slash", issuer=issuer.rstrip("/"))
    world.bound(ns, "other-cluster", issuer=issuer.rsplit("/", 2)[0] + "/0ther-c1uster/")
    world.bound(ns, "upper-issuer", issuer=issuer[:-20] + issuer[-20:].upper())
    world.bound(ns, "wrong-ns", subject="system:serviceaccount:prod:wrong-ns")
    world.bound(ns, "wrong-name", subject=f"system:serviceaccount:{ns}:wrong-nmae")
    world.bound(ns, "case", subject=f"system:serviceaccount:{ns}:Case")
    world.bound(ns, "audience", audiences=["api://SomethingElse"])
    empty = world.identity("id-fics-empty")
    world.service_account(ns, "no-fics", empty.client_id)
    shared = world.identity("id-fics-shared")
    world.service_account(ns, "sibling", shared.client_id)
    world.fic(shared, ns, "sibling")
    world.service_account(ns, "not-bound", shared.client_id)
    return {"ns": ns, "issuer": issuer}


@pytest.fixture()
def fic_doc(fic_run: dict[str, Any], env, wi) -> dict[str, Any]:
    if "doc" not in fic_run:
        fic_run["code"], fic_run["doc"] = doctor(wi, "-n", fic_run["ns"], "--no-live")
    return fic_run


def fic_finding(run: dict[str, Any], sa: str) -> dict[str, Any]:
    return found(run["doc"], "identity.fic", f"{run['ns']}/{sa}:")


def test_matching_credential_is_ok_and_the_broken_ones_fail(fic_doc) -> None:
    assert fic_doc["code"] == 1
    assert fic_finding(fic_doc, "good")["status"] == "ok"
    statuses = {f["summary"].split(":")[0]: f["status"] for f in fic_doc["doc"]["findings"]
                if f["id"] == "identity.fic"}
    assert sorted(sa for sa, s in statuses.items() if s == "ok") == ["fics/good",
                                                                   "fics/sibling"]
    assert len(statuses) == 11


def test_issuer_without_trailing_slash_shows_both_strings(fic_doc) -> None:
    f = fic_finding(fic_doc, "no-slash")
    assert f["status"] == "fail" and "lacks the trailing '/'" in f["summary"]
    assert "AADSTS700211" in f["summary"]
    assert f["evidence"]["expected"]["issuer"] == fic_doc["issuer"]
    assert f["evidence"]["actual"]["issuer"] == fic_doc["issuer"].rstrip("/")
    assert f["remediation"]["commands"] == [
        "wi bind no-slash id-fics-no-slash -n fics",
        f"wi unbind no-slash id-fics-no-slash -n fics --issuer {fic_doc['issuer'].rstrip('/')}"]


def test_issuer_of_another_cluster(fic_doc) -> None:
    f = fic_finding(fic_doc, "other-cluster")
    assert f["status"] == "fail" and "another issuer" in f["summary"]
    assert "AKS cluster wi-lab-aks" in f["summary"]
    # a credential for another cluster may still serve it: no delete suggested
    assert not any("delete" in c for c in f["remediation"]["commands"])


def test_issuer_differing_in_case(fic_doc) -> None:
    f = fic_finding(fic_doc, "upper-issuer")
    assert f["status"] == "fail" and "only in case" in f["summary"]
    assert f["evidence"]["actual"]["issuer"].lower() == fic_doc["issuer"].lower()


@pytest.mark.parametrize("sa, words, code", [
    ("wrong-ns", "names namespace 'prod' instead of 'fics'", "AADSTS700213"),
    ("wrong-name", "names service account 'wrong-nmae' instead of 'wrong-name'", "AADSTS700213"),
    ("case", "differs only in case", "AADSTS7002138"),
])
def test_subject_differences_are_named(fic_doc, sa, words, code) -> None:
    f = fic_finding(fic_doc, sa)
    assert f["status"] == "fail" and words in f["summary"] and code in f["summary"]
    assert f["evidence"]["expected"]["subject"] == f"system:serviceaccount:fics:{sa}"


def test_audience_difference(fic_doc) -> None:
    f = fic_finding(fic_doc, "audience")
    assert f["status"] == "fail" and "AADSTS700212" in f["summary"]
    assert f["evidence"]["actual"]["audiences"] == ["api://SomethingElse"]
    assert f["evidence"]["expected"]["audiences"] == [AUDIENCE]


def test_identity_without_any_credential(fic_doc) -> None:
    f = fic_finding(fic_doc, "no-fics")
    assert f["status"] == "fail" and "no federated credentials" in f["summary"]
    assert "AADSTS70025" in f["summary"] and f["evidence"]["actual"] == []
    assert f["remediation"]["commands"] == ["wi bind no-fics id-fics-empty -n fics"]


def test_credential_only_for_a_sibling_service_account(fic_doc) -> None:
    assert fic_finding(fic_doc, "sibling")["status"] == "ok"
    f = fic_finding(fic_doc, "not-bound")
    assert f["status"] == "fail"
    assert "no federated credential for this service account" in f["summary"]
    assert "system:serviceaccount:fics:sibling" in f["summary"]
    assert not any("delete" in c for c in f["remediation"]["commands"])


# -- the fixes converge -------------------------------------------------------------------------

def _all_credentials(world: World) -> dict[tuple[str, str], tuple[str, str, tuple[str, ...]]]:
    return {(i.name, f.name): (f.issuer, f.subject, tuple(f.audiences))
            for i in world.lab.azure.identities.values() for f in i.fics.values()}


BROKEN = {  # service account -> how its one credential is wrong
    "no-slash": lambda w: {"issuer": w.issuer.rstrip("/")},
    "upper-issuer": lambda w: {"issuer": w.issuer[:-20] + w.issuer[-20:].upper()},
    "in-cluster": lambda w: {"issuer": "https://kubernetes.default.svc.cluster.local"},
    "other-cluster": lambda w: {"issuer": w.issuer.rsplit("/", 2)[0] + "/0ther-c1uster/"},
    "audience": lambda w: {"audiences": ["api://SomethingElse"]},
    "case": lambda w: {"subject": "system:serviceaccount:converge:Case"},
    "other-sa": lambda w: {"subject": "system:serviceaccount:converge:someone-else"},
}


@pytest.mark.parametrize("sa", sorted(BROKEN))
def test_pasting_the_printed_fixes_makes_the_check_pass_and_touches_nothing_else(
        world, env, wi, sa) -> None:
    """Each command of identity.fic's fix, run as printed (wi commands; az ones are not on this
    machine and are only ever a clean-up), leads to a passing check, and only this service
    account's credential and the credential the fix names change."""
    ns = world.namespace("converge")
    ident = world.bound(ns, sa, **BROKEN[sa](world))
    code, doc = doctor(wi, "-n", ns, "--service-account", sa, "--no-live",
                       "--check", "identity.fic")
    finding = found(doc, "identity.fic", f"{ns}/{sa}:")
    assert finding["status"] == "fail"
    before = _all_credentials(world)
    named = set()
    for command in finding["remediation"]["commands"]:
        assert "<" not in command and ">" not in command, command
        if command.startswith("wi "):
            assert wi(*command.split()[1:]).code == 0, command
        if " --issuer " in command or command.startswith("az "):
            named.add(command)
    code, doc = doctor(wi, "-n", ns, "--service-account", sa, "--no-live",
                       "--check", "identity.fic")
    assert code == 0 and found(doc, "identity.fic", f"{ns}/{sa}:")["status"] == "ok"
    after = _all_credentials(world)
    touched = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert all(k[0] == ident.name for k in touched), touched
    assert len(touched) <= 1 + len(named), (touched, named)
    wrong = [k for k in before if k[0] == ident.name]
    if not named:  # nothing certainly stale: the wrong credential stays as it was
        assert all(after.get(k) == before[k] for k in wrong) or sa == "audience"


def test_twenty_credentials_warn_when_another_is_needed(world, env, wi) -> None:
    ns = world.namespace("full")
    ident = world.identity("id-full")
    for i in range(20):
        world.fic(ident, "elsewhere", f"sa{i}")
    world.service_account(ns, "app", ident.client_id)
    code, doc = doctor(wi, "-n", ns, "--no-live")
    assert code == 1
    f = found(doc, "identity.fic-limit")
    assert f["status"] == "warn" and "fics full/app" not in f["summary"]
    assert "full/app needs a new one" in f["summary"] and f["evidence"]["actual"] == 20
    assert found(doc, "identity.fic", "full/app")["status"] == "fail"


def test_a_full_identity_warns_before_the_next_bind_is_refused(world, env, wi) -> None:
    ns = world.namespace("full-ok")
    ident = world.identity("id-full-ok")
    for i in range(19):
        world.fic(ident, "elsewhere", f"sa{i}")
    world.service_account(ns, "app", ident.client_id)
    world.fic(ident, ns, "app")
    code, doc = doctor(wi, "-n", ns, "--no-live")
    f = found(doc, "identity.fic-limit")
    assert code == 0 and f["status"] == "warn" and "20 of 20" in f["summary"]
    assert "will be refused" in f["summary"] and found(doc, "identity.fic")["status"] == "ok"


def test_region_without_federated_credentials(world, env, wi) -> None:
    ns = world.namespace("far-away")
    ident = world.identity("id-malaysia", location="malaysiasouth")
    world.service_account(ns, "app", ident.client_id)
    code, doc = doctor(wi, "-n", ns, "--no-live")
    assert code == 1
    f = found(doc, "identity.region")
    assert f["status"] == "fail" and "Malaysia South" in f["summary"]
    assert f["evidence"]["actual"] == "malaysiasouth"
    assert "az identity create" in f["remediation"]["commands"][0]


def test_fresh_credential_warns_about_propagation(world, env, wi) -> None:
    ns = world.namespace("fresh")
    world.bound(ns, "new", age=5)
    world.bound(ns, "old", age=7200)
    code, doc = doctor(wi, "-n", ns, "--no-live")
    assert code == 0, failing(doc)
    new = found(doc, "identity.fic-propagation", "fresh/new")
    assert new["status"] == "warn" and "AADSTS70025, 700211 or 700213" in new["summary"]
    assert re.fullmatch(r"created \d+ s ago", new["evidence"]["actual"])  # an age, no timestamp
    old = found(doc, "identity.fic-propagation", "fresh/old")
    assert old["status"] == "ok" and "2 h ago" in old["summary"]


# -- role assignments -----------------------------------------------------------------------------

def test_identity_without_role_assignment_is_a_warning_that_says_why(world, env, wi) -> None:
    ns = world.namespace("no-roles")
    ident = world.identity("id-no-roles", role=None)
    world.service_account(ns, "app", ident.client_id)
    world.fic(ident, ns, "app")
    code, doc = doctor(wi, "-n", ns, "--no-live")
    assert code == 0, failing(doc)
    f = found(doc, "rbac.role-assignments", "no-roles/app")
    assert f["status"] == "warn" and "403" in f["summary"]
    assert "cannot know which resources" in f["summary"]
    assert f["evidence"]["actual"] == []
    assert any(ident.principal_id in c for c in f["remediation"]["commands"])


# -- issuer documents ----------------------------------------------------------------------------

def test_unreachable_issuer_documents_fail(world, env, wi) -> None:
    world.lab.oidc.break_issuer(world.issuer, 404)
    try:
        code, doc = doctor(wi, "-n", "demo", "--no-live")
    finally:
        world.lab.oidc.repair_issuer(world.issuer)
    assert code == 1
    f = found(doc, "identity.issuer-documents")
    assert f["status"] == "fail" and "HTTP 404" in f["summary"]
    assert f["remediation"]["commands"] == ["az aks update -g wi-lab-rg -n wi-lab-aks"]


# -- the token pods present ---------------------------------------------------------------------

def pod(ns: str, name: str, sa: str, env: list[dict[str, str]] | None = None,
        volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "python:3.12",
                                 "command": ["python3", "-c", "pass"], "env": env or []}
    return {"metadata": {"name": name, "namespace": ns,
                         "labels": {"azure.workload.identity/use": "true"}},
            "spec": {"serviceAccountName": sa, "containers": [container],
                     "volumes": volumes or []}}


def test_pods_reading_a_long_lived_or_default_token_fail(world, env, wi) -> None:
    ns = world.namespace("tokens")
    world.bound(ns, "app")
    cluster = world.seeded.cluster
    seed_running_pod(cluster, pod(ns, "good", "app"))
    seed_running_pod(cluster, pod(ns, "default-token", "app", env=[
        {"name": "AZURE_FEDERATED_TOKEN_FILE", "value": DEFAULT_TOKEN}]))
    seed_running_pod(cluster, pod(ns, "long-lived", "app", volumes=[{
        "name": "azure-identity-token", "projected": {"sources": [{"serviceAccountToken": {
            "path": "azure-identity-token", "expirationSeconds": 172800,
            "audience": "https://kubernetes.default.svc"}}]}}]))
    code, doc = doctor(wi, "-n", ns, "--no-live")
    assert code == 1
    assert found(doc, "identity.token-source", "tokens/good ")["status"] == "ok"
    bad = found(doc, "identity.token-source", "tokens/default-token ")
    assert bad["status"] == "fail" and DEFAULT_TOKEN in bad["summary"]
    assert "AADSTS70023" in bad["summary"]
    long = found(doc, "identity.token-source", "tokens/long-lived ")
    assert long["status"] == "fail" and "172800" in long["summary"]
    assert "'https://kubernetes.default.svc'" in long["summary"]
    assert "kubectl delete pod long-lived -n tokens" in long["remediation"]["commands"]


def test_many_identities_read_role_assignments_in_one_subscription_list(world, env,
                                                                        wi) -> None:
    ns = world.namespace("many")
    for i in range(21):
        world.bound(ns, f"app{i:02d}")
    bare = world.identity("id-many-bare", role=None)
    world.service_account(ns, "bare", bare.client_id)
    world.fic(bare, ns, "bare")
    first = len(world.lab.request_log)
    code, doc = doctor(wi, "-n", ns, "--no-live")
    assert code == 0, failing(doc)
    calls = [r.path for r in world.lab.request_log[first:] if "roleAssignments" in r.path]
    assert calls and not any("assignedTo" in p for p in calls)
    assert found(doc, "rbac.role-assignments", "many/bare")["status"] == "warn"
    ok = found(doc, "rbac.role-assignments", "many/app07")
    assert ok["status"] == "ok" and "Reader on resource group wi-lab-rg" in ok["summary"]
