"""`wi probe` as a user runs it, against the lab: the lab's webhook injects, its kubelet runs
the agent for real, Entra/ARM/Key Vault/Blob answer the agent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.lab.kube import scenarios
from wi_cli.lab.kube.aks import set_workload_identity

NS, SA = scenarios.NAMESPACE, scenarios.SERVICE_ACCOUNT
PROBE = ["probe", "-n", NS, "--service-account", SA]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("probe")) as world:
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"],
                                             world["kubeconfig"]))


def leftovers(world: dict[str, Any], ns: str = NS) -> list[str]:
    store = world["seeded"].cluster.store
    names = []
    for plural in ("pods", "configmaps"):
        items, _ = store.list(plural, ns)
        names += [f"{plural}/{o['metadata']['name']}" for o in items
                  if o["metadata"]["name"].startswith("wi-probe-")]
    return names


def make_sa(world: dict[str, Any], name: str, annotations: dict[str, str]) -> None:
    world["seeded"].cluster.store.create("serviceaccounts", NS, {
        "metadata": {"name": name, "namespace": NS, "annotations": annotations}})


def test_healthy_probe_shows_claims_roles_and_checks(world, env, wi) -> None:
    seeded = world["seeded"]
    run = wi(*PROBE, "--check-keyvault", scenarios.KEY_VAULT,
             "--check-storage",
             f"{scenarios.STORAGE_ACCOUNT}/{scenarios.STORAGE_CONTAINER}", "-o", "json")
    doc = run.json
    assert run.code == 0 and doc["status"] == "ok", doc
    data = doc["data"]
    assert data["container"]["namespace"] == NS and data["container"]["pod"] == data["pod"]["name"]
    sa = data["tokens"]["service_account"]["claims"]
    assert sa["iss"] == seeded.issuer_url
    assert sa["sub"] == f"system:serviceaccount:{NS}:{SA}"
    assert sa["aud"] == ["api://AzureADTokenExchange"]
    access = data["tokens"]["access_token"]
    assert access["ok"] and access["claims"]["oid"] == seeded.identity.principal_id
    seeded_roles = {(world["lab"].azure.role_definitions[ra.role_guid].role_name, ra.scope)
                    for ra in world["lab"].azure.assignments_for(seeded.identity.principal_id)}
    shown = {(ra["role"], ra["scope"]) for ra in data["permissions"]["role_assignments"]}
    assert len(seeded_roles) == 3 and seeded_roles <= shown
    assert all(c["ok"] for c in data["checks"]) and len(data["checks"]) == 2
    assert data["verdict"]["ok"] and data["targets"]["keyvault"]["uri"].endswith(
        f"/{scenarios.KEY_VAULT}/")
    assert "lab-secret-value" not in run.out + run.err
    assert seeded.operator.secret not in run.out + run.err
    assert leftovers(world) == []


def test_healthy_human_view(world, env, wi) -> None:
    run = wi(*PROBE)
    assert run.code == 0
    for title in ("Container", "Service-account token", "Entra access token", "Permissions",
                  "Effective permissions"):
        assert title in run.out
    assert f"system:serviceaccount:{NS}:{SA}" in run.out and "Workload identity works" in run.out
    assert world["seeded"].identity.principal_id in run.out
    assert "Key Vault Secrets User" in run.out and "Storage Blob Data Reader" in run.out
    assert leftovers(world) == []


@pytest.mark.parametrize("columns", [80, 200])
def test_scopes_issuer_and_paths_are_whole_at_any_width(world, env, wi, columns: int) -> None:
    """Tables when they fit, lines when they do not: never a folded or cut value."""
    run = wi(*PROBE, columns=columns)
    assert run.code == 0 and "…" not in run.out
    seeded = world["seeded"]
    scopes = {ra.scope for ra in world["lab"].azure.assignments_for(seeded.identity.principal_id)}
    lines = run.out.splitlines()
    for value in (*scopes, seeded.issuer_url, f"system:serviceaccount:{NS}:{SA}"):
        assert any(value in line for line in lines), value
    assert ("┃ Scope" in run.out) == (columns == 200)


def test_key_vault_check_fails_with_403_explained_when_only_reader(world, env, wi) -> None:
    lab, seeded = world["lab"], world["seeded"]
    kv_user = [ra for ra in lab.azure.assignments_for(seeded.identity.principal_id)
               if lab.azure.role_definitions[ra.role_guid].role_name == "Key Vault Secrets User"]
    assert kv_user
    for ra in kv_user:
        del lab.azure.role_assignments[ra.name.lower()]
    try:
        as_json = wi(*PROBE, "--check-keyvault", scenarios.KEY_VAULT, "-o", "json")
        human = wi(*PROBE, "--check-keyvault", scenarios.KEY_VAULT)
    finally:
        for ra in kv_user:
            lab.azure.role_assignments[ra.name.lower()] = ra
    assert as_json.code == 1 == human.code  # the exchange worked; the check asked for failed
    doc = as_json.json
    assert doc["status"] == "problems" and doc["data"]["verdict"]["status"] == "fail"
    check = doc["data"]["checks"][0]
    assert check["kind"] == "keyvault" and check["ok"] is False and check["status"] == 403
    assert check["error"]["code"] == "Forbidden" and check["error"]["inner"] == "ForbiddenByRbac"
    assert "Key Vault Secrets User" in check["explanation"]["fix"]
    assert "1 data-plane check(s) failed" in doc["data"]["verdict"]["summary"]
    assert "403 Forbidden" in human.out and "Key Vault Secrets User" in human.out


def test_broken_fic_subject_is_exit_1_with_aadsts700213(world, env, wi) -> None:
    make_sa(world, "no-fic-sa", {"azure.workload.identity/client-id":
                                 world["seeded"].identity.client_id})
    argv = ["probe", "-n", NS, "--service-account", "no-fic-sa"]
    run = wi(*argv, "-o", "json")
    doc = run.json
    assert run.code == 1 and doc["status"] == "problems"
    error = doc["data"]["tokens"]["access_token"]["error"]
    assert error["code"] == "AADSTS700213" and "subject" in error["explanation"]["cause"]
    assert doc["data"]["permissions"] is None
    run = wi(*argv)
    assert run.code == 1 and "AADSTS700213" in run.out and "wi doctor -n demo" in run.out
    assert "system:serviceaccount:NAMESPACE:NAME" in run.out  # the root cause, from the table
    assert leftovers(world) == []


def test_pod_without_injection_reports_missing_env(world, env, wi) -> None:
    cluster = world["seeded"].cluster
    set_workload_identity(cluster, False)
    try:
        run = wi(*PROBE, "-o", "json")
        doc = run.json
    finally:
        set_workload_identity(cluster, True)
    assert run.code == 1
    assert "AZURE_FEDERATED_TOKEN_FILE" in doc["data"]["env"]["missing"]
    assert "did not mutate the pod" in doc["data"]["verdict"]["summary"]
    assert doc["data"]["tokens"]["access_token"]["ok"] is False
    # the fix names the cluster the probe ran on, found through ARM by its API server
    assert (f"az aks update -g {scenarios.RESOURCE_GROUP} -n {scenarios.CLUSTER_NAME} "
            "--enable-oidc-issuer --enable-workload-identity") in doc["data"]["verdict"]["fixes"][0]
    assert leftovers(world) == []


def test_admission_refused_is_exit_1_and_leaves_nothing(world, env, wi) -> None:
    make_sa(world, "bad-expiry-sa", {
        "azure.workload.identity/client-id": world["seeded"].identity.client_id,
        "azure.workload.identity/service-account-token-expiration": "soon"})
    run = wi("probe", "-n", NS, "--service-account", "bad-expiry-sa", "-o", "json")
    doc = run.json
    assert run.code == 1 and doc["data"]["outcome"] == "refused"
    assert "denied the request" in doc["data"]["verdict"]["causes"][0]
    assert leftovers(world) == []


def test_image_that_cannot_be_pulled_is_reported_with_the_event_reason(world, env, wi) -> None:
    run = wi("probe", "-n", NS, "--service-account", SA,
             "--image", "registry.invalid/python:3.12", "--timeout", "30", "-o", "json")
    doc = run.json
    assert run.code == 1, doc
    verdict = doc["data"]["verdict"]
    assert verdict["ok"] is False
    assert verdict["summary"] in ("The probe pod never started: ErrImagePull.",
                                  "The probe pod never started: ImagePullBackOff.")
    assert any("Failed to pull image" in c and "no such host" in c for c in verdict["causes"])
    assert leftovers(world) == []


def test_timeout_is_exit_4_and_cleans_up(world, env, wi, monkeypatch) -> None:
    lab = world["lab"]
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")  # no operator sign-in: only the agent waits
    lab.entra.faults.latency = 3.0  # the agent's exchange hangs past --timeout
    try:
        run = wi(*PROBE, "--timeout", "1", "-o", "json")
        doc = run.json
    finally:
        lab.entra.faults.latency = 0.0
    assert run.code == 4 and doc["errors"][0]["type"] == "ProbeTimeout"
    assert "did not finish within 1s" in doc["errors"][0]["message"]
    assert leftovers(world) == []


@pytest.mark.parametrize("argv, code, fragment", [
    (["--check-storage", "NoSlash"], 2, "ACCOUNT/CONTAINER"),
    (["--check-keyvault", "bad_vault!"], 2, "vault name"),
    (["--timeout", "0"], 2, "--timeout"),
    (["--check-keyvault", "no-such-kv"], 3, "No Key Vault named"),
])
def test_bad_input_changes_nothing(world, env, wi, argv, code, fragment) -> None:
    run = wi(*PROBE, *argv, "-o", "json")
    doc = run.json
    assert run.code == code and fragment in doc["errors"][0]["message"]
    assert leftovers(world) == []


def test_missing_service_account_or_namespace_is_exit_3_like_bind(world, env, wi) -> None:
    run = wi("probe", "-n", NS, "--service-account", "ghost", "-o", "json")
    doc = run.json
    assert run.code == 3
    assert doc["errors"][0]["message"] == f"Service account {NS}/ghost does not exist."
    run = wi("probe", "-n", "nowhere", "--service-account", "ghost", "-o", "json")
    doc = run.json
    assert run.code == 3 and doc["errors"][0]["message"] == "Namespace nowhere does not exist."
    run = wi("bind", "ghost", scenarios.IDENTITY_NAME, "-n", NS, "-o", "json")
    bind = run.json
    assert run.code == 3 and bind["errors"][0]["message"].startswith(f"Service account {NS}/ghost")
    assert leftovers(world) == []


def test_unreachable_cluster_is_exit_4(world, env, wi, monkeypatch, tmp_path: Path) -> None:
    text = Path(world["kubeconfig"]).read_text()
    server = world["seeded"].cluster.url
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(text.replace(server, "https://127.0.0.1:9"))
    monkeypatch.setenv("KUBECONFIG", str(dead))
    run = wi(*PROBE, "-o", "json")
    doc = run.json
    assert run.code == 4 and "Could not reach" in doc["errors"][0]["message"]


def test_keep_leaves_the_pod_and_configmap(world, env, wi) -> None:
    run = wi(*PROBE, "--keep", "-o", "json")
    doc = run.json
    name = doc["data"]["pod"]["name"]
    try:
        assert run.code == 0 and sorted(leftovers(world)) == [f"configmaps/{name}", f"pods/{name}"]
        assert doc["data"]["pod"]["kept"] is True
    finally:
        store = world["seeded"].cluster.store
        store.delete("pods", NS, name)
        store.delete("configmaps", NS, name)


def test_keep_says_what_it_kept_and_its_delete_command_works(world, env, wi) -> None:
    import os
    import subprocess

    run = wi(*PROBE, "--keep")
    assert run.code == 0 and len(leftovers(world)) == 2
    (command,) = [line.strip()[2:] for line in run.out.splitlines()
                  if line.strip().startswith("$ kubectl delete")]
    (name,) = {n.split("/")[1] for n in leftovers(world)}
    assert f"Kept pod/{name} and configmap/{name} in namespace {NS}" in run.out
    subprocess.run(command.split(), check=True, capture_output=True, timeout=60,
                   env={**os.environ, "KUBECONFIG": world["kubeconfig"]})
    assert leftovers(world) == []


def test_without_operator_credentials_the_permissions_say_why(world, env, wi,
                                                               monkeypatch) -> None:
    for var in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(var)
    run = wi(*PROBE)
    assert run.code == 0, run.err
    seeded = world["seeded"]
    rg = f"/subscriptions/{seeded.subscription_id}/resourceGroups/{seeded.resource_group}"
    # the agent still looks at the identity's resource group (from its token's xms_mirid)
    assert rg in run.out and "Reader" in run.out
    assert "No subscription selected" in run.err
    run = wi(*PROBE, "-o", "json")
    doc = run.json
    assert doc["data"]["targets"]["scopes"] == []
    assert [s["scope"] for s in doc["data"]["permissions"]["scopes"]][-1] == rg


def test_probe_help_imports_no_sdk() -> None:
    import subprocess
    import sys

    script = ("import json, sys\nfrom wi_cli.cli.app import main\ncode = main(['probe', '--help'])\n"
              "mods = [m for m in sys.modules if m.split('.')[0] in ('azure', 'kubernetes', 'msal',"
              " 'urllib3') or m.startswith(('wi_cli.lab', 'wi_cli.adapters', 'wi_cli.core.probe'))]\n"
              "print(json.dumps({'code': code, 'mods': mods}), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "mods": []}
    assert "--check-keyvault" in proc.stdout and "--service-account" in proc.stdout


def test_ctrl_c_deletes_the_pod_and_configmap(world, env, monkeypatch) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")  # no operator sign-in: only the agent waits
    lab = world["lab"]
    lab.entra.faults.latency = 3.0  # keeps the agent busy while we interrupt
    try:
        proc = subprocess.Popen([sys.executable, "-m", "wi_cli", *PROBE, "-o", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ))
        deadline = time.monotonic() + 30
        while not any(n.startswith("pods/") for n in leftovers(world)):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        lab.entra.faults.latency = 0.0
    assert proc.returncode == 130, (out, err)
    assert out.strip(), err
    assert json.loads(out)["errors"][0]["type"] == "Interrupted"
    assert "Traceback" not in err
    assert leftovers(world) == []


def test_fresh_bind_then_probe_warns_while_entra_refuses_then_is_clean(world, env, wi,
                                                                     monkeypatch) -> None:
    lab, ident = world["lab"], world["seeded"].identity
    monkeypatch.setenv("WI_PROPAGATION_WAIT", "1")  # the agent's bounded retries, shortened
    make_sa(world, "fresh-probe", {})
    assert wi("bind", "fresh-probe", scenarios.IDENTITY_NAME, "-n", NS).code == 0
    fic = next(f for f in ident.fics.values()
               if f.subject == f"system:serviceaccount:{NS}:fresh-probe")
    lab.azure.refuse_next(ident, 1000, fic=fic.name)
    argv = ["probe", "-n", NS, "--service-account", "fresh-probe"]
    try:
        as_json = wi(*argv, "-o", "json")
        human = wi(*argv)
    finally:
        lab.azure.refuse_next(ident, 0, fic=fic.name)
    doc = as_json.json
    verdict = doc["data"]["verdict"]
    assert as_json.code == 0 == human.code and verdict["status"] == "warn", verdict
    # the identity's other credential has this issuer: Entra answers 700213 without the new one
    assert "AADSTS700213" in verdict["summary"] and "Re-run in a few minutes" in verdict["summary"]
    assert re.search(r"was created \d+ s ago", verdict["summary"])
    assert not any("wi bind" in f for f in verdict["fixes"])
    access = doc["data"]["tokens"]["access_token"]
    assert access["waited_seconds"] == 1 and access["attempts"] == 3
    assert "! Entra refused the token exchange with AADSTS700213" in human.out
    assert leftovers(world) == []

    run = wi(*argv, "-o", "json")
    doc = run.json
    assert run.code == 0 and doc["data"]["verdict"]["status"] == "ok"
    assert "propagat" not in json.dumps(doc["data"]["verdict"])
    assert leftovers(world) == []


def test_a_domain_tenant_works_in_the_pod(world, env, wi) -> None:
    """The webhook injects the domain as AZURE_TENANT_ID and the pod's exchange works."""
    seeded = world["seeded"]
    domain = world["lab"].azure.tenant_domain(seeded.tenant_id)
    make_sa(world, "probe-domain", {"azure.workload.identity/client-id": seeded.identity.client_id,
                                    "azure.workload.identity/tenant-id": domain})
    world["lab"].azure.add_fic(seeded.identity, "probe-domain", seeded.issuer_url or "",
                               f"system:serviceaccount:{NS}:probe-domain")
    run = wi("probe", "-n", NS, "--service-account", "probe-domain", "-o", "json")
    doc = run.json
    assert run.code == 0, doc["errors"] or doc["data"]
    assert leftovers(world) == []


def test_no_retry_when_arm_shows_no_credential_for_the_subject(world, env, wi) -> None:
    make_sa(world, "never-bound", {"azure.workload.identity/client-id":
                                   world["seeded"].identity.client_id})
    run = wi("probe", "-n", NS, "--service-account", "never-bound", "-o", "json")
    doc = run.json
    access = doc["data"]["tokens"]["access_token"]
    assert run.code == 1 and doc["data"]["verdict"]["status"] == "fail"
    assert access["error"]["code"] == "AADSTS700213" and access["waited_seconds"] == 0
