"""`wi doctor --contexts/--all-contexts` on a lab fleet: one healthy AKS cluster, one broken, one
context whose server is unreachable; plus what only the fleet shows: a credential that still
trusts a deleted cluster (its issuer answers 404), a GitHub Actions trust and a cluster of
another cloud (information, never a fix), two clusters claiming one identity with different
tenants, and an identity near the 20-credential limit because two clusters use it. The human
view at 80 columns, the JSON, the JUnit report (valid against tests/fixtures/junit/junit.xsd),
--fail-on, --output-file, and -o junit on another command."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterator

import pytest
import xmlschema

from support import operator_env, run_wi, set_env
from wi_cli.lab.keys import SigningKey
from wi_cli.lab.kube import scenarios
from wi_cli.lab.kube.fleet import (
    add_fleet_cluster,
    bind_service_account,
    delete_aks_cluster,
    fleet_kubeconfig,
    issuer_of,
    unreachable_server,
)
from wi_cli.lab.kube.webhook import TENANT_ID_ANNOTATION
from wi_cli.lab.runtime import Lab

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "junit" / "junit.xsd"
GITHUB = "https://token.actions.githubusercontent.com"
HEALTHY, BROKEN, GONE = "wi-lab-aks", "fleet-broken", "fleet-gone"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("doctor-fleet")
    with Lab() as lab:
        seeded = scenarios.seed(lab, "bound")
        az, identity = lab.azure, seeded.identity
        for fic in identity.fics.values():
            fic.created_at -= 3600
        healthy = seeded.cluster
        broken = add_fleet_cluster(lab, seeded, BROKEN)
        other_tenant = az.add_tenant()
        # broken: no credential for demo/app, and a tenant that is not the identity's
        bind_service_account(lab, broken, identity, "demo", "app",
                             {TENANT_ID_ANNOTATION: other_tenant}, credential=False)
        # a cluster that was deleted: its credential stays on the identity
        deleted = add_fleet_cluster(lab, seeded, "fleet-deleted")
        bind_service_account(lab, deleted, identity, "demo", "old")
        deleted_issuer = delete_aks_cluster(lab, deleted)
        # trusts of other federations: GitHub Actions, and a cluster ARM does not know
        az.add_fic(identity, "github-main", GITHUB, "repo:contoso/app:ref:refs/heads/main")
        elsewhere = lab.oidc.register("elsewhere/cluster", lambda key=SigningKey(): [key])
        az.add_fic(identity, "elsewhere-batch", elsewhere, "system:serviceaccount:jobs:batch")
        # a live cluster in another subscription the operator can read
        other_sub = az.add_subscription(seeded.tenant_id, display_name="other")
        az.add_role_assignment(other_sub.id, "Reader", seeded.operator.object_id)
        other = add_fleet_cluster(lab, seeded, "fleet-other",
                                  subscription_id=other_sub.subscription_id,
                                  resource_group="other-rg")
        bind_service_account(lab, other, identity, "demo", "other")
        # an identity two clusters share, 18 credentials for 2 issuers
        shared = az.add_identity(seeded.subscription_id, seeded.resource_group, "fleet-shared")
        az.add_role_assignment(f"/subscriptions/{seeded.subscription_id}/resourceGroups/"
                               f"{seeded.resource_group}", "Reader", shared.principal_id)
        for cluster in (healthy, broken):
            bind_service_account(lab, cluster, shared, "shared", "app")
            for i in range(8):
                fic = az.add_fic(shared, f"{cluster.name}-ns{i}", issuer_of(cluster),
                                 f"system:serviceaccount:ns{i}:app")
                fic.created_at -= 3600
        kubeconfig = folder / "kubeconfig"
        kubeconfig.write_text(fleet_kubeconfig(lab, [healthy, broken],
                                               {GONE: unreachable_server(lab)}))
        kubeconfig.chmod(0o600)
        yield {"lab": lab, "seeded": seeded, "kubeconfig": str(kubeconfig), "folder": folder,
               "deleted_issuer": deleted_issuer, "elsewhere": elsewhere,
               "healthy_issuer": issuer_of(healthy), "tenant": seeded.tenant_id,
               "other_tenant": other_tenant, "other_issuer": issuer_of(other),
               "subscriptions": [seeded.subscription_id, other_sub.subscription_id]}


@pytest.fixture(autouse=True)
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


@pytest.fixture(scope="module")
def fleet_json(world: dict[str, Any]) -> dict[str, Any]:
    """One JSON run of the whole fleet, shared by the tests that read it."""
    with pytest.MonkeyPatch.context() as mp:
        set_env(mp, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))
        mp.setenv("HOME", str(world["folder"]))
        mp.setenv("WI_STATE_DIR", str(world["folder"] / "state"))
        run = run_wi("doctor", "--all-contexts", "-A", "--no-live", "-o", "json")
    assert run.code == 1
    return run.json


def fleet_findings(doc: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["id"] == check]


def test_the_summary_comes_first_and_nothing_copied_is_cut(wi, world) -> None:
    run = wi("doctor", "--all-contexts", "-A", "--no-live", columns=80)
    assert run.code == 1, run.err
    lines = run.out.splitlines()
    assert lines[0] == "wi doctor — 3 contexts, all namespaces"
    assert lines[1].startswith(f"✓ {HEALTHY}  cluster {HEALTHY}  2 service accounts  ok ")
    assert lines[2] == f"    issuer: {world['healthy_issuer']}"
    broken = next(i for i, line in enumerate(lines) if line.startswith(f"✗ {BROKEN} "))
    assert lines[broken + 2].startswith("    worst: ✗ ")
    gone = next(i for i, line in enumerate(lines) if line.startswith(f"? {GONE}"))
    assert lines[gone + 1].startswith(
        "    error: Could not reach the Kubernetes API server https://127.0.0.1:")
    # then the problems by context, what only the fleet shows, and the closing line
    assert f"── {BROKEN} (cluster {BROKEN})" in run.out and "── across clusters" in run.out
    assert f"── {HEALTHY}" not in run.out  # nothing wrong there
    unbind = (f"$ wi unbind old wi-lab-identity -n demo --issuer {world['deleted_issuer']}")
    assert unbind in [line.strip() for line in lines]
    assert not [line for line in lines if "…" in line]
    # a context's fix acts on that context, whatever the shell's current one
    assert f"$ wi --context {BROKEN} bind app wi-lab-identity -n demo" in \
        [line.strip() for line in lines]
    assert lines[-1] == f"Not reached: {GONE}."
    assert "Problems found" in lines[-2]


def test_json_has_a_row_per_context_and_every_finding_once(fleet_json, world) -> None:
    data = fleet_json["data"]
    rows = {r["context"]: r for r in data["contexts"]}
    assert list(rows) == [HEALTHY, BROKEN, GONE]
    for row in rows.values():
        assert set(row) >= {"context", "cluster", "issuer", "status", "counts", "error",
                            "chains"}
    assert (rows[HEALTHY]["status"], rows[BROKEN]["status"], rows[GONE]["status"]) == \
        ("ok", "fail", "error")
    assert rows[HEALTHY]["issuer"] == world["healthy_issuer"] and rows[HEALTHY]["error"] is None
    assert rows[GONE]["error"]["type"] == "KubernetesError" and rows[GONE]["chains"] == []
    keys = [f["key"] for f in fleet_json["findings"]]
    assert len(keys) == len(set(keys))
    assert all(f["target"]["context"] for f in fleet_json["findings"])
    by_key = {f["key"]: f for f in fleet_json["findings"]}
    for row in rows.values():
        assert row["counts"]["fail"] == sum(by_key[k]["status"] == "fail"
                                            for k in row["findings"])
        for chain in row["chains"]:
            for link in chain["links"]:
                assert set(link["findings"]) <= set(row["findings"])
        assert all(by_key[k]["target"]["context"] == row["context"] for k in row["findings"])
    fleet = [by_key[k] for k in data["fleet"]["findings"]]
    assert fleet and {f["layer"] for f in fleet} == {"fleet"}
    assert sorted(data["fleet"]["subscriptions"]) == sorted(world["subscriptions"])


def test_a_deleted_clusters_credential_is_stale_trust(fleet_json, world) -> None:
    stale = [f for f in fleet_findings(fleet_json, "fleet.stale-trust") if f["status"] == "fail"]
    (f,) = stale
    assert f["target"]["identity"] == "wi-lab-identity"
    assert f["target"]["issuer"] == world["deleted_issuer"]
    assert "HTTP 404" in str(f["evidence"]["actual"])
    assert f["remediation"]["commands"] == [
        f"wi unbind old wi-lab-identity -n demo --issuer {world['deleted_issuer']}"]


def test_github_and_a_cluster_elsewhere_are_information(fleet_json, world) -> None:
    by_issuer = {f["target"]["issuer"]: f for f in fleet_findings(fleet_json, "fleet.stale-trust")}
    for issuer in (GITHUB, world["elsewhere"]):
        assert by_issuer[issuer]["status"] == "ok", by_issuer[issuer]["summary"]
        assert by_issuer[issuer]["remediation"]["commands"] == []
    assert "GitHub Actions" in by_issuer[GITHUB]["summary"]
    assert "answers" in by_issuer[world["elsewhere"]]["summary"]
    # the live clusters' trusts are no finding of their own
    assert world["healthy_issuer"] not in by_issuer and world["other_issuer"] not in by_issuer


def test_a_live_cluster_in_a_subscription_not_searched_is_never_stale(wi, world) -> None:
    doc = wi("doctor", "--all-contexts", "-A", "--no-live", "-o", "json",
             "--subscriptions", world["seeded"].subscription_id).json
    assert doc["data"]["fleet"]["subscriptions"] == [world["seeded"].subscription_id]
    by_issuer = {f["target"]["issuer"]: f for f in doc["findings"]
                 if f["id"] == "fleet.stale-trust"}
    other = by_issuer[world["other_issuer"]]
    assert other["status"] == "ok" and "answers" in other["summary"]
    assert by_issuer[world["deleted_issuer"]]["status"] == "fail"


def test_two_clusters_claiming_one_identity_with_different_tenants(fleet_json, world) -> None:
    by_identity = {f["target"]["identity"]: f for f in fleet_findings(fleet_json, "fleet.tenant")}
    conflict = by_identity["wi-lab-identity"]
    assert conflict["status"] == "fail"
    assert world["other_tenant"] in conflict["summary"] and world["tenant"] in conflict["summary"]
    assert conflict["remediation"]["commands"] == [
        f"kubectl --context {BROKEN} annotate serviceaccount app -n demo "
        f"azure.workload.identity/tenant-id={world['tenant']} --overwrite"]
    assert by_identity["fleet-shared"]["status"] == "ok"


def test_an_identity_many_clusters_use_is_near_its_credential_limit(fleet_json) -> None:
    by_identity = {f["target"]["identity"]: f
                   for f in fleet_findings(fleet_json, "fleet.credential-room")}
    assert by_identity["fleet-shared"]["status"] == "warn"
    assert "18 of 20" in by_identity["fleet-shared"]["summary"]
    assert by_identity["wi-lab-identity"]["status"] == "ok"


def test_junit_report_is_valid_and_says_each_status(wi, schema) -> None:
    run = wi("doctor", "--all-contexts", "-A", "--no-live", "-o", "junit")
    assert run.code == 1
    schema.validate(run.out)
    suites = {s.get("name"): s for s in ET.fromstring(run.out).iter("testsuite")}
    assert {f"{HEALTHY}.cluster", f"{BROKEN}.identity", f"{GONE}.cluster", "fleet"} <= \
        set(suites)
    (gone,) = suites[f"{GONE}.cluster"].iter("testcase")
    assert gone.find("error") is not None
    failures = [c for c in suites["fleet"].iter("testcase") if c.find("failure") is not None]
    assert {c.get("name").split()[0] for c in failures} == {"fleet.stale-trust", "fleet.tenant"}
    warned = [c for c in suites["fleet"].iter("testcase") if c.find("system-out") is not None]
    assert [c.get("name") for c in warned] == ["fleet.credential-room fleet-shared"]


def test_a_plain_run_gives_junit_too(wi, schema) -> None:
    run = wi("--context", HEALTHY, "doctor", "-n", "demo", "--no-live", "-o", "junit")
    assert run.code == 0
    schema.validate(run.out)
    suites = [s.get("name") for s in ET.fromstring(run.out).iter("testsuite")]
    assert f"{HEALTHY}.identity" in suites and "fleet" not in suites


def test_fail_on_warn_turns_a_warning_into_exit_1(wi) -> None:
    argv = ("doctor", "--contexts", HEALTHY, "-n", "shared", "--no-live")
    assert wi(*argv).code == 0
    run = wi(*argv, "--fail-on", "warn")
    assert run.code == 1 and "Warnings found (--fail-on warn)." in run.out


def test_output_file_writes_the_report_while_the_human_view_prints(wi, world, schema) -> None:
    report = world["folder"] / "reports" / "wi-doctor.xml"
    run = wi("doctor", "--contexts", f"{HEALTHY},{GONE}", "-A", "--no-live", "-o", "junit",
             "--output-file", str(report))
    assert run.code == 1  # the stale trust of an identity the healthy cluster uses
    assert run.out.startswith("wi doctor — 2 contexts")
    schema.validate(report.read_text())
    as_json = world["folder"] / "wi-doctor.json"
    run = wi("doctor", "--contexts", HEALTHY, "-n", "demo", "--no-live",
             "--output-file", str(as_json))
    assert run.out.startswith("wi doctor — 1 context")
    import json

    assert json.loads(as_json.read_text())["data"]["contexts"][0]["context"] == HEALTHY


def test_a_run_that_cannot_start_still_writes_its_report(wi, world, schema) -> None:
    report = world["folder"] / "fatal.xml"
    run = wi("doctor", "--contexts", "nope", "-o", "junit", "--output-file", str(report))
    assert run.code == 3 and "no context 'nope'" in run.err
    schema.validate(report.read_text())
    assert "no context" in ET.fromstring(report.read_text()).find(".//error").get("message")


def test_junit_is_for_doctor_only(wi, monkeypatch) -> None:
    run = wi("bind", "app", "wi-lab-identity", "-n", "demo", "--dry-run", "-o", "junit")
    assert run.code == 2 and "-o junit is for 'wi doctor' only" in run.err
    monkeypatch.setenv("WI_OUTPUT", "junit")
    run = wi("bind", "wi-lab-sa", "wi-lab-identity", "-n", "demo", "--dry-run")
    assert "Note: junit output is for 'wi doctor' only; showing the table." in run.err
    assert run.code == 0 and "<testsuites" not in run.out


@pytest.mark.parametrize("argv, message", [
    (["--contexts", HEALTHY, "--context", HEALTHY], "--context and --contexts"),
    (["--all-contexts", "--contexts", HEALTHY], "--contexts and --all-contexts"),
    (["--all-contexts", "--cluster", "x", "-g", "rg"], "--cluster and --all-contexts"),
    (["--subscriptions", "x"], "--subscriptions goes with"),
    (["--all-contexts", "--fail-on", "error"], "--fail-on must be warn or fail"),
])
def test_fleet_usage_errors(wi, argv: list[str], message: str) -> None:
    run = wi("doctor", *argv)
    assert run.code == 2 and message in run.err


def test_kubeconfig_lists_merge_like_kubectl(wi, world, monkeypatch) -> None:
    import yaml

    doc = yaml.safe_load(Path(world["kubeconfig"]).read_text())
    first, second = world["folder"] / "a.yaml", world["folder"] / "b.yaml"
    for path, names in ((first, [HEALTHY]), (second, [BROKEN])):
        part = {**doc, **{section: [e for e in doc[section]
                                    if e["name"] in names or e["name"] in
                                    [f"clusterUser_{n}" for n in names]]
                          for section in ("clusters", "contexts", "users")}}
        path.write_text(yaml.safe_dump(part))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    doc = wi("doctor", "--all-contexts", "--check", "cluster.oidc-issuer", "-o", "json").json
    assert [r["context"] for r in doc["data"]["contexts"]] == [HEALTHY, BROKEN]
