"""`wi doctor`'s live layer against the lab: a real TokenRequest on the lab API server, a real
federated exchange at the lab's Entra, and the claims doctor reports (never a token).

This module has its own lab: several tests break cluster-wide things (the issuer documents, the
signing keys, the API server's clock) and put them back afterwards."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.doctor.checks.live import claim_problems
from wi_cli.lab.keys import SigningKey
from wi_cli.lab.kube import scenarios

NS = "demo"
AUDIENCE = "api://AzureADTokenExchange"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("healthy", tmp_path_factory.mktemp("live")) as world:
        world["issuer"] = world["seeded"].cluster.aks.issuer
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


def doctor(wi, *argv: str) -> tuple[int, dict[str, Any]]:
    run = wi("doctor", *argv, "-o", "json")
    return run.code, run.json


def found(doc: dict[str, Any], check_id: str, who: str | None = None) -> dict[str, Any]:
    hits = [f for f in doc["findings"] if f["id"] == check_id
            and (who is None or f["summary"].startswith(who))]
    assert len(hits) == 1, (check_id, [f["summary"] for f in doc["findings"]])
    return hits[0]


def make_sa(world: dict[str, Any], ns: str, name: str,
            annotations: dict[str, str] | None = None) -> None:
    store = world["seeded"].cluster.store
    if store.try_get("namespaces", None, ns) is None:
        store.create("namespaces", None, {"metadata": {"name": ns}})
    store.create("serviceaccounts", ns, {"metadata": {"name": name, "namespace": ns,
                                                      "annotations": annotations or {}}})


def token_requests(world: dict[str, Any]) -> int:
    return sum(1 for r in world["lab"].request_log
               if r.method == "POST" and r.path.split("?")[0].endswith("/token")
               and "/serviceaccounts/" in r.path)


@pytest.fixture()
def bound_app(world: dict[str, Any], env: None, wi) -> str:
    """demo/app bound with `wi bind` as a user does it (the module's healthy service account)."""
    if not world.get("bound"):
        make_sa(world, NS, "app")
        assert wi("bind", "app", scenarios.IDENTITY_NAME, "-n", NS).code == 0
        world["bound"] = True
    return "demo/app"


# -- healthy --------------------------------------------------------------------------------------

def test_healthy_lab_after_bind_is_exit_0_with_the_live_claims(world, env, bound_app,
                                                               wi) -> None:
    before = token_requests(world)
    code, doc = doctor(wi, "-n", NS)
    assert code == 0, [f["summary"] for f in doc["findings"] if f["status"] == "fail"]
    assert token_requests(world) == before + 1
    f = found(doc, "live.token-exchange", bound_app)
    ident, s = world["seeded"].identity, world["seeded"]
    assert f["status"] == "ok"
    claims = f["evidence"]["actual"]
    assert claims["appid"] == ident.client_id and claims["oid"] == ident.principal_id
    assert claims["tid"] == s.tenant_id and claims["aud"] == world["lab"].arm_audience
    assert claims["xms_mirid"].lower() == ident.id.lower() and claims["exp"] > time.time()
    assert f"appid={ident.client_id}" in f["summary"]
    assert found(doc, "live.token-claims", bound_app)["status"] == "ok"
    assert found(doc, "live.signing-key")["status"] == "ok"


def test_human_output_shows_claims_and_no_token(world, env, bound_app, wi) -> None:
    run = wi("doctor", "-n", NS)  # the fixture looks for a raw JWT
    assert run.code == 0
    assert "Token exchange at Entra" in run.out
    assert f"oid={world['seeded'].identity.principal_id}" in run.out


def test_no_live_mints_no_token_and_skips_the_live_checks(world, env, bound_app,
                                                          wi) -> None:
    before = token_requests(world)
    code, doc = doctor(wi, "-n", NS, "--no-live")
    assert code == 0 and token_requests(world) == before
    assert {f["status"] for f in doc["findings"] if f["layer"] == "live"} == {"skip"}


# -- refusals mapped to their cause ---------------------------------------------------------------

def test_wrong_subject_is_700213_with_cause_and_command(world, env, wi) -> None:
    lab, s = world["lab"], world["seeded"]
    ident = lab.azure.add_identity(s.subscription_id, s.resource_group, "id-refused")
    make_sa(world, "refused", "app", {"azure.workload.identity/client-id": ident.client_id})
    lab.azure.add_fic(ident, "typo", s.issuer_url or "", "system:serviceaccount:refused:ap")
    code, doc = doctor(wi, "-n", "refused")
    assert code == 1
    f = found(doc, "live.token-exchange", "refused/app")
    assert f["status"] == "fail" and "AADSTS700213" in f["summary"]
    # the cause identity.fic names for the same setup
    assert "its subject names service account 'ap' instead of 'app'" in f["summary"]
    assert "its subject names service account 'ap' instead of 'app'" in found(
        doc, "identity.fic", "refused/app")["summary"]
    assert "system:serviceaccount:refused:app" in f["evidence"]["actual"]
    assert f["remediation"]["commands"] == ["wi bind app id-refused -n refused"]
    assert "wi bind app id-refused -n refused" in f["remediation"]["text"]


def _one_credential(world: dict[str, Any], ns: str, *, issuer: str | None = None,
                    subject: str | None = None, audience: str | None = None,
                    beside_healthy: bool = False) -> None:
    """demo-like service account ``ns``/app bound to its own identity with one credential; with
    ``beside_healthy`` the identity also holds a correct credential for another account."""
    lab, s = world["lab"], world["seeded"]
    ident = lab.azure.add_identity(s.subscription_id, s.resource_group, f"id-{ns}")
    make_sa(world, ns, "app", {"azure.workload.identity/client-id": ident.client_id})
    fic = lab.azure.add_fic(ident, "app", issuer or s.issuer_url or "",
                            subject or f"system:serviceaccount:{ns}:app",
                            [audience or AUDIENCE])
    fic.created_at -= 3600
    if beside_healthy:
        other = lab.azure.add_fic(ident, "other", s.issuer_url or "",
                                  f"system:serviceaccount:{ns}:other")
        other.created_at -= 3600


@pytest.mark.parametrize("ns,setup,code,cause", [
    ("wrong-issuer", {"issuer": "ISSUER/x/"}, "AADSTS700211", "its issuer is another issuer"),
    ("noslash-issuer", {"issuer": "NOSLASH", "beside_healthy": True}, "AADSTS700213",
     "its issuer lacks the trailing '/'"),
    ("wrong-subject", {"subject": "system:serviceaccount:wrong-subject:ap"}, "AADSTS700213",
     "its subject names service account 'ap' instead of 'app'"),
    ("case-subject", {"subject": "system:serviceaccount:Case-Subject:app"}, "AADSTS7002138",
     "its subject differs only in case"),
    ("wrong-audience", {"audience": "api://AzureADTokenExchangeChina"}, "AADSTS700212",
     "lack api://AzureADTokenExchange"),
])
def test_identity_and_live_checks_name_the_same_cause(world, env, wi, ns, setup, code,
                                                      cause) -> None:
    issuer = world["seeded"].issuer_url
    if setup.get("issuer") == "NOSLASH":
        setup = {**setup, "issuer": issuer.rstrip("/")}
    elif setup.get("issuer"):
        setup = {**setup, "issuer": setup["issuer"].replace("ISSUER", issuer.rstrip("/"))}
    _one_credential(world, ns, **setup)
    rc, doc = doctor(wi, "-n", ns)
    assert rc == 1
    identity_fic = found(doc, "identity.fic", f"{ns}/app")
    live = found(doc, "live.token-exchange", f"{ns}/app")
    assert identity_fic["status"] == live["status"] == "fail"
    for f in (identity_fic, live):
        assert code in f["summary"] and cause in f["summary"], f["summary"]
    assert code in live["evidence"]["actual"]  # what Entra really answered


def test_tenant_annotation_is_the_tenant_asked(world, env, bound_app, wi) -> None:
    make_sa(world, NS, "other-tenant", {
        "azure.workload.identity/client-id": world["seeded"].identity.client_id,
        "azure.workload.identity/tenant-id": "11111111-2222-3333-4444-555555555555"})
    code, doc = doctor(wi, "-n", NS, "--service-account", "other-tenant")
    assert code == 1
    f = found(doc, "live.token-exchange", f"{NS}/other-tenant")
    assert f["status"] == "fail" and "AADSTS90002" in f["summary"]
    assert "tenant-id" in f["remediation"]["text"]


def test_a_domain_tenant_works_end_to_end(world, env, wi) -> None:
    """tenant-id may be a verified domain: the webhook passes it on, Entra accepts it."""
    domain = world["lab"].azure.tenant_domain(world["seeded"].tenant_id)
    make_sa(world, NS, "by-domain")
    assert wi("bind", "by-domain", scenarios.IDENTITY_NAME, "-n", NS).code == 0
    world["seeded"].cluster.store.patch("serviceaccounts", NS, "by-domain", {"metadata": {
        "annotations": {"azure.workload.identity/tenant-id": domain}}},
        "application/merge-patch+json")
    code, doc = doctor(wi, "-n", NS, "--service-account", "by-domain")
    assert code == 0, [f for f in doc["findings"] if f["status"] in ("fail", "error")]
    assert found(doc, "workload.tenant-id")["status"] == "ok"
    assert found(doc, "live.token-exchange", f"{NS}/by-domain")["status"] == "ok"


def test_the_audience_comes_from_the_cluster_not_the_cloud(world, env, wi) -> None:
    """A webhook started with --audience projects that audience (AWI cmd/webhook/main.go): wi
    bind writes it, doctor compares and mints with it, and the exchange works."""
    from wi_cli.lab.kube import webhook

    store = world["seeded"].cluster.store
    dep = store.get("deployments", "kube-system", webhook.DEPLOYMENT_NAME)
    saved = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    other = "api://AzureADTokenExchangeChina"
    container = {"name": "manager", "args": [*saved, f"--audience={other}"]}
    store.patch("deployments", "kube-system", webhook.DEPLOYMENT_NAME,
                {"spec": {"template": {"spec": {"containers": [container]}}}},
                "application/strategic-merge-patch+json")
    try:
        make_sa(world, NS, "china")
        run = wi("bind", "china", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
        data = run.json["data"]
        assert run.code == 0 and data["audience"] == other
        assert data["audience_source"] == "the webhook's --audience flag"
        fic = next(f for f in world["seeded"].identity.fics.values()
                   if f.subject == f"system:serviceaccount:{NS}:china")
        assert fic.audiences == [other]
        code, doc = doctor(wi, "-n", NS, "--service-account", "china")
        assert code == 0, [f for f in doc["findings"] if f["status"] in ("fail", "error")]
        assert found(doc, "identity.fic", f"{NS}/china")["status"] == "ok"
        claims = found(doc, "live.token-claims", f"{NS}/china")
        assert other in json.dumps(claims["evidence"] or claims["summary"])
    finally:
        store.patch("deployments", "kube-system", webhook.DEPLOYMENT_NAME,
                    {"spec": {"template": {"spec": {"containers": [
                        {"name": "manager", "args": saved}]}}}},
                    "application/strategic-merge-patch+json")


# -- a credential Entra does not see yet ----------------------------------------------------------

def _fresh_bind(world: dict[str, Any], wi, sa: str) -> Any:
    """``wi bind`` a new service account now; the lab's credential for it, just created."""
    make_sa(world, NS, sa)
    assert wi("bind", sa, scenarios.IDENTITY_NAME, "-n", NS).code == 0
    ident = world["seeded"].identity
    return next(f for f in ident.fics.values()
                if f.subject == f"system:serviceaccount:{NS}:{sa}")


def test_fresh_bind_warns_while_entra_refuses_then_is_clean(world, env, wi,
                                                            monkeypatch) -> None:
    lab, ident = world["lab"], world["seeded"].identity
    monkeypatch.setenv("WI_PROPAGATION_WAIT", "1")  # doctor's bounded wait, shortened
    fic = _fresh_bind(world, wi, "fresh-warn")
    lab.azure.refuse_next(ident, 1000, fic=fic.name)
    try:
        code, doc = doctor(wi, "-n", NS, "--service-account", "fresh-warn")
    finally:
        lab.azure.refuse_next(ident, 0, fic=fic.name)
    who = f"{NS}/fresh-warn"
    live = found(doc, "live.token-exchange", who)
    assert code == 0 and live["status"] == "warn", live
    # what Entra answers without the new credential: 700213 when another one has this issuer
    others = [f for f in ident.fics.values() if f is not fic and f.issuer == fic.issuer]
    answer = "AADSTS700213" if others else "AADSTS70025"
    assert answer in live["summary"] and "Re-run in a few minutes" in live["summary"]
    assert re.search(r"was created \d+ s ago", live["summary"]) and "wi bind" not in str(live)
    assert live["evidence"]["actual"]["age"].startswith("created ")
    assert not re.search(r"\d{4}-\d\d-\d\d", json.dumps(live["evidence"]))  # an age, no date
    propagation = found(doc, "identity.fic-propagation", who)
    assert propagation["status"] == "warn" and answer in propagation["summary"]
    assert not [f for f in doc["findings"] if f["status"] == "fail"]

    code, doc = doctor(wi, "-n", NS, "--service-account", "fresh-warn")
    assert code == 0 and found(doc, "live.token-exchange", who)["status"] == "ok"
    propagation = found(doc, "identity.fic-propagation", who)
    assert propagation["status"] == "ok" and "accepted by Entra" in propagation["summary"]
    assert not [f for f in doc["findings"] if f["status"] != "ok" and f["layer"] != "live"
                and "propagat" in f["summary"]]


def test_live_check_waits_for_a_credential_that_is_still_propagating(world, env, wi) -> None:
    lab, ident = world["lab"], world["seeded"].identity
    fic = _fresh_bind(world, wi, "fresh")
    lab.azure.refuse_next(ident, 2, fic=fic.name)  # seen from the third exchange on
    code, doc = doctor(wi, "-n", NS, "--service-account", "fresh")
    live = found(doc, "live.token-exchange", f"{NS}/fresh")
    assert code == 0 and live["status"] == "ok"
    assert "after waiting 1.5 s" in live["summary"] and "propagate" in live["summary"]
    assert found(doc, "identity.fic-propagation", f"{NS}/fresh")["status"] == "ok"


def test_no_creation_time_in_arm_is_age_unknown(world, env, wi, monkeypatch) -> None:
    lab, ident = world["lab"], world["seeded"].identity
    monkeypatch.setenv("WI_PROPAGATION_WAIT", "0")
    fic = _fresh_bind(world, wi, "fresh-unknown")
    lab.azure.system_data = False  # ARM's systemData is optional
    lab.azure.refuse_next(ident, 5, fic=fic.name)
    try:
        code, doc = doctor(wi, "-n", NS, "--service-account", "fresh-unknown")
    finally:
        lab.azure.system_data = True
        lab.azure.refuse_next(ident, 0, fic=fic.name)
    live = found(doc, "live.token-exchange", f"{NS}/fresh-unknown")
    assert code == 0 and live["status"] == "warn" and "age unknown" in live["summary"]


def test_an_old_exact_credential_refused_is_a_failure_without_recreate_advice(
        world, env, wi) -> None:
    lab, s = world["lab"], world["seeded"]
    make_sa(world, NS, "old-refused", {"azure.workload.identity/client-id": s.identity.client_id})
    fic = lab.azure.add_fic(s.identity, "old-refused", s.issuer_url or "",
                            f"system:serviceaccount:{NS}:old-refused")
    fic.created_at -= 3600  # bound an hour ago, yet refused
    lab.azure.refuse_next(s.identity, 1000, fic=fic.name)
    try:
        code, doc = doctor(wi, "-n", NS, "--service-account", "old-refused")
    finally:
        lab.azure.refuse_next(s.identity, 0, fic=fic.name)
    live = found(doc, "live.token-exchange", f"{NS}/old-refused")
    assert code == 1 and live["status"] == "fail" and "AADSTS700213" in live["summary"]
    assert "matches the cluster's issuer" in live["summary"] and "60 min ago" in live["summary"]
    assert live["remediation"]["commands"] == []
    assert "Keep the credential" in live["remediation"]["text"]


# -- the issuer, its keys, the clock --------------------------------------------------------------

@pytest.mark.parametrize("status, documents, signing_key",
                         [(404, "fail", "skip"), (500, "error", "error")])
def test_unreachable_issuer_is_50166(world, env, bound_app, wi, status: int, documents: str,
                                     signing_key: str) -> None:
    """Entra cannot fetch the issuer's documents: the live exchange gives the verdict either
    way; doctor's own read of them fails on a 404 (they are gone) and is no verdict on a 500
    that outlasts the retries (it may pass: 'could not be read', not 'cannot verify')."""
    lab, url = world["lab"], world["seeded"].issuer_url
    lab.oidc.break_issuer(url, status)
    try:
        code, doc = doctor(wi, "-n", NS, "--service-account", "app")
    finally:
        lab.oidc.repair_issuer(url)
    assert code == 1
    assert "AADSTS50166" in found(doc, "live.token-exchange", bound_app)["summary"]
    read = found(doc, "identity.issuer-documents")
    assert read["status"] == documents, read
    assert f"HTTP {status}" in read["summary"] + json.dumps(read["evidence"]), read
    assert found(doc, "live.signing-key")["status"] == signing_key


def test_signing_key_missing_from_the_published_jwks(world, env, bound_app, wi) -> None:
    lab, issuer = world["lab"], world["issuer"]
    stale = SigningKey()
    lab.oidc.register(issuer.prefix, lambda: [stale])  # the blob was never refreshed
    try:
        code, doc = doctor(wi, "-n", NS, "--service-account", "app")
    finally:
        issuer.enable_public()
    assert code == 1
    f = found(doc, "live.signing-key")
    assert f["status"] == "fail" and issuer.signing_key.kid in f["summary"]
    assert f["evidence"]["actual"] == [stale.kid]
    assert f["remediation"]["commands"] == ["az aks update -g wi-lab-rg -n wi-lab-aks"]
    exchange = found(doc, "live.token-exchange", bound_app)
    assert "AADSTS7000272" in exchange["summary"] and "AADSTS7000272" in f["summary"]
    assert "kid" in exchange["summary"] and "JWKS" in exchange["summary"]


def test_api_server_clock_ahead_warns_and_entra_refuses(world, env, bound_app, wi) -> None:
    issuer = world["issuer"]
    issuer.clock_offset = 900
    try:
        code, doc = doctor(wi, "-n", NS, "--service-account", "app")
    finally:
        issuer.clock_offset = 0.0
    assert code == 1
    claims = found(doc, "live.token-claims", bound_app)
    assert claims["status"] == "warn" and "clock" in claims["summary"]
    assert 880 <= claims["evidence"]["actual"]["iat_minus_local_seconds"] <= 920
    assert "AADSTS700024" in found(doc, "live.token-exchange", bound_app)["summary"]


def test_claim_problems_of_a_long_lived_default_token() -> None:
    now = time.time()
    issuer = "https://issuer.example/tenant/guid/"
    good = {"iss": issuer, "aud": [AUDIENCE], "iat": now, "exp": now + 3600}
    assert claim_problems(good, AUDIENCE, issuer, now)[0] == []
    default_token = {"iss": "https://kubernetes.default.svc.cluster.local",
                     "aud": ["https://kubernetes.default.svc"], "iat": now,
                     "exp": now + 365 * 86400}
    bad, shown = claim_problems(default_token, AUDIENCE, issuer, now)
    assert len(bad) == 3 and "AADSTS70023" in bad[0] and "AADSTS700212" in bad[1]
    assert shown["lifetime_seconds"] == 365 * 86400
