"""The probe agent's JSON contract: the agent file runs as a subprocess (as in the pod) with a
token file minted by the lab cluster's issuer, against the lab's Entra, ARM and data planes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import wi_cli.agent
from wi_cli.core.cloud import resolve_cloud
from wi_cli.core.models import (
    ArmView,
    ProbeReport,
    ProbeRequest,
    ProbeTargets,
    ProbeVerdict,
    read_report,
)
from wi_cli.core.probe.manifest import agent_env, pod_body
from wi_cli.core.probe.verdict import conclude
from wi_cli.lab.kube import scenarios
from wi_cli.lab.runtime import Lab

AGENT = Path(wi_cli.agent.__file__).resolve().parent / "agent.py"
SUBJECT_NS, SUBJECT_SA = scenarios.NAMESPACE, scenarios.SERVICE_ACCOUNT


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Lab, scenarios.Seeded]]:
    with Lab() as lab:
        yield lab, scenarios.seed(lab, "bound")


def _token(world: tuple[Lab, scenarios.Seeded], tmp_path: Path, sa: str = SUBJECT_SA) -> Path:
    _, seeded = world
    issuer = seeded.cluster.sa_issuer  # type: ignore[union-attr]
    minted = issuer.mint(SUBJECT_NS, sa, "uid-1", ["api://AzureADTokenExchange"], 3600)
    path = tmp_path / "token" / "azure-identity-token"
    path.parent.mkdir()
    path.write_text(minted.token)
    return path


def _wi_env(world: tuple[Lab, scenarios.Seeded], token: Path | None) -> dict[str, str]:
    lab, seeded = world
    env = {"PATH": os.environ.get("PATH", ""), "SSL_CERT_FILE": str(lab.ca_file),
           "WI_ARM_ENDPOINT": lab.arm_endpoint, "WI_ARM_SCOPE": lab.arm_audience + ".default",
           "WI_POD_NAME": "wi-probe-test", "WI_POD_NAMESPACE": SUBJECT_NS,
           "WI_NODE_NAME": "node-1", "WI_HTTP_TIMEOUT": "10"}
    if token is not None:
        env.update({"AZURE_CLIENT_ID": seeded.identity.client_id,  # type: ignore[union-attr]
                    "AZURE_TENANT_ID": seeded.tenant_id,
                    "AZURE_FEDERATED_TOKEN_FILE": str(token),
                    "AZURE_AUTHORITY_HOST": lab.authority_host})
    return env


def holds(outer: Any, inner: Any) -> bool:
    """Everything in ``inner`` is in ``outer`` with the same value (``outer`` may say more)."""
    if isinstance(inner, dict):
        return isinstance(outer, dict) and all(k in outer and holds(outer[k], v)
                                               for k, v in inner.items())
    if isinstance(inner, list):
        return isinstance(outer, list) and len(outer) == len(inner) and \
            all(holds(o, i) for o, i in zip(outer, inner, strict=True))
    return bool(outer == inner)


def verdict_of(report: dict[str, Any]) -> ProbeVerdict:
    """What `wi probe` concludes from this report (no ARM view)."""
    _, findings = conclude(ProbeReport.from_json(report), ProbeRequest("demo", "app"),
                           ProbeTargets(), ArmView(), "Succeeded")
    return ProbeVerdict.of(findings)


def run_agent(env: dict[str, str]) -> tuple[dict[str, Any], str]:
    proc = subprocess.run([sys.executable, str(AGENT)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("WI-PROBE-REPORT ")
    return json.loads(last[len("WI-PROBE-REPORT "):]), proc.stdout + proc.stderr


def test_healthy_report(world, tmp_path: Path) -> None:
    lab, seeded = world
    sub = f"/subscriptions/{seeded.subscription_id}"
    rg = f"{sub}/resourceGroups/{seeded.resource_group}"
    vault = lab.azure.resource_named("Microsoft.KeyVault/vaults", scenarios.KEY_VAULT)
    env = _wi_env(world, _token(world, tmp_path))
    env.update(WI_SCOPES=f"{sub} {rg}", WI_CHECK_KEYVAULT=f"{lab.keyvault.url}/{vault['name']}/",
               WI_CHECK_BLOB=f"{lab.blob.url}/{scenarios.STORAGE_ACCOUNT}/"
                             f"{scenarios.STORAGE_CONTAINER}")
    report, raw = run_agent(env)
    assert report["schema"] == "wi-probe/v1"
    assert report["container"]["pod"] == "wi-probe-test" and report["container"]["node"] == "node-1"
    assert report["container"]["uid"] == os.getuid() and report["container"]["python"]
    assert report["env"]["missing"] == [] and report["env"]["token_path"].endswith("token")
    assert report["credential"]["first"] == "WorkloadIdentityCredential"
    sa = report["tokens"]["service_account"]
    assert sa["exists"] and sa["readable"] and sa["mode"] and sa["lifetime_seconds"] == 3600
    assert sa["claims"]["iss"] == seeded.issuer_url
    assert sa["claims"]["sub"] == f"system:serviceaccount:{SUBJECT_NS}:{SUBJECT_SA}"
    assert sa["claims"]["aud"] == ["api://AzureADTokenExchange"]
    access = report["tokens"]["access_token"]
    assert access["ok"] and access["claims"]["oid"] == seeded.identity.principal_id
    assert access["claims"]["xms_mirid"].endswith("/" + scenarios.IDENTITY_NAME)
    perms = report["permissions"]
    assert [s["id"] for s in perms["subscriptions"]] == [seeded.subscription_id]
    roles = {(ra["role"], ra["scope"]) for ra in perms["role_assignments"]}
    assert ("Reader", rg) in roles and ("Key Vault Secrets User", sub) in roles
    by_scope = {s["scope"]: s for s in perms["scopes"]}
    assert by_scope[sub]["error"]["status"] == 403  # Key Vault Secrets User: no actions there
    assert by_scope[rg]["actions"] == ["*/read"] and by_scope[rg]["error"] is None
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in by_scope[rg]["dataActions"]
    checks = {c["kind"]: c for c in report["checks"]}
    assert checks["keyvault"]["ok"] and checks["keyvault"]["status"] == 200
    assert scenarios.KEY_VAULT_SECRET in checks["keyvault"]["detail"]
    assert checks["keyvault"]["scope"] == "https://vault.azure.net/.default"  # from the 401
    assert checks["storage"]["ok"] and "hello.txt" in checks["storage"]["detail"]
    assert "eyJ" not in raw and "lab-secret-value" not in raw
    # what wi reads back is what the agent wrote
    read = read_report("WI-PROBE-REPORT " + json.dumps(report))
    assert read is not None and holds(read.to_json(), report)
    assert verdict_of(report).status.value == "ok"


def test_without_scopes_from_wi_the_identity_resource_group_is_inspected(world, tmp_path) -> None:
    """No operator credentials, so wi names no scope: the agent takes the subscriptions the token
    sees and the identity's resource group from the token's xms_mirid claim."""
    _, seeded = world
    sub = f"/subscriptions/{seeded.subscription_id}"
    rg = f"{sub}/resourceGroups/{seeded.resource_group}"
    report, _ = run_agent(_wi_env(world, _token(world, tmp_path)))
    perms = report["permissions"]
    assert [s["scope"] for s in perms["scopes"]] == [sub, rg]
    by_scope = {s["scope"]: s for s in perms["scopes"]}
    assert by_scope[sub]["role_assignments_error"]["status"] == 403  # Reader is on the group
    roles = {(ra["role"], ra["scope"]) for ra in perms["role_assignments"]}
    assert ("Reader", rg) in roles and ("Key Vault Secrets User", sub) in roles


def test_wrong_subject_reports_the_aadsts_code(world, tmp_path: Path) -> None:
    env = {**_wi_env(world, _token(world, tmp_path, sa="someone-else")),
           "WI_PROPAGATION_WAITS": ""}  # `wi probe` sets no retries when ARM shows no match
    report, raw = run_agent(env)
    access = report["tokens"]["access_token"]
    assert access["ok"] is False and access["claims"] is None
    assert access["error"]["code"] == "AADSTS700213"
    assert access["error"]["description"].startswith("AADSTS700213")
    assert report["permissions"] is None and report["checks"] == []
    assert "eyJ" not in raw


def test_no_injected_env_reports_what_is_missing(world) -> None:
    report, _ = run_agent(_wi_env(world, None))
    assert report["env"]["missing"] == ["AZURE_CLIENT_ID", "AZURE_TENANT_ID",
                                        "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"]
    assert report["tokens"]["service_account"]["error"] == "AZURE_FEDERATED_TOKEN_FILE is not set"
    assert report["tokens"]["access_token"]["error"]["error"] == "not_attempted"
    assert report["credential"]["first"].startswith("ManagedIdentityCredential")
    verdict = verdict_of(report)
    assert verdict.ok is False and "did not mutate the pod" in verdict.summary


def test_a_client_secret_shadows_workload_identity_and_is_never_printed(world, tmp_path) -> None:
    env = _wi_env(world, _token(world, tmp_path))
    env["AZURE_CLIENT_SECRET"] = "super-secret-value-123"
    report, raw = run_agent(env)
    assert report["credential"]["shadows_workload_identity"] is True
    assert report["credential"]["first"] == "EnvironmentCredential (client secret)"
    assert report["env"]["other_azure_variables"] == ["AZURE_CLIENT_SECRET"]
    assert "super-secret-value-123" not in raw
    verdict = verdict_of(report)
    assert verdict.ok and "shadows workload identity" in verdict.warnings[0]


def test_missing_token_file_and_garbage_token(world, tmp_path: Path) -> None:
    report, _ = run_agent(_wi_env(world, tmp_path / "nope"))
    sa = report["tokens"]["service_account"]
    assert sa["exists"] is False and "cannot stat" in sa["error"]
    garbage = tmp_path / "garbage"
    garbage.write_text("not a token")
    report, _ = run_agent(_wi_env(world, garbage))
    assert "does not hold a JWT" in report["tokens"]["service_account"]["error"]
    verdict = verdict_of(report)
    assert not verdict.ok and "unusable" in verdict.summary


def test_pod_is_hardened_and_labelled() -> None:
    req = ProbeRequest("demo", "app", timeout=30)
    pod = pod_body("wi-probe-x", req, [])
    spec = pod["spec"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert spec["serviceAccountName"] == "app" and spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["activeDeadlineSeconds"] >= 30
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["fsGroup"] == 65534
    container = spec["containers"][0]
    assert container["command"] == ["python3", "/opt/wi-probe/agent.py"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}  # python3 image: Linux nodes
    assert container["resources"]["limits"] and container["resources"]["requests"]


def test_agent_is_stdlib_only_and_python38_syntax() -> None:
    import ast

    tree = ast.parse(AGENT.read_text(), feature_version=(3, 8))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def run_while_refused(world, tmp_path: Path, refusals: int, waits: str | None,
                      code: int | None = None) -> dict[str, Any]:
    """Run the agent while Entra does not see the bound credential for ``refusals`` exchanges."""
    lab, seeded = world
    ident = seeded.identity  # type: ignore[union-attr]
    lab.azure.refuse_next(ident, refusals, code=code)
    try:
        env = _wi_env(world, _token(world, tmp_path))
        if waits is not None:
            env["WI_PROPAGATION_WAITS"] = waits
        report, _ = run_agent(env)
    finally:
        lab.azure.refuse_next(ident, 0)
    return report["tokens"]["access_token"]


def test_exchange_waits_while_a_new_credential_propagates(world, tmp_path: Path) -> None:
    access = run_while_refused(world, tmp_path, 2, "0.1,0.1,0.1")
    assert access["ok"] and abs(access["waited_seconds"] - 0.2) < 1e-6
    # the identity's only credential unseen: Entra answers 70025, then the token comes
    assert access["attempts"] == 3 and access["codes"] == ["AADSTS70025", "AADSTS70025", None]


def test_a_refusal_that_persists_is_reported_after_the_bounded_wait(world, tmp_path: Path) -> None:
    access = run_while_refused(world, tmp_path, 100, "0.1,0.1")
    assert access["ok"] is False and access["error"]["code"] == "AADSTS70025"
    assert abs(access["waited_seconds"] - 0.2) < 1e-6 and access["attempts"] == 3


def test_every_code_of_a_credential_not_seen_yet_is_retried(world, tmp_path: Path) -> None:
    access = run_while_refused(world, tmp_path, 1, "0.1", code=70021)
    assert access["ok"] and access["codes"] == ["AADSTS70021", None]


def test_default_retries_last_about_ten_seconds() -> None:
    from wi_cli.agent import agent
    from wi_cli.core.models import propagation_waits

    waits = [float(w) for w in agent.DEFAULT_PROPAGATION_WAITS.split(",")]
    assert waits == propagation_waits()  # the same schedule as doctor's
    assert set(agent.PROPAGATION_CODES) >= {"AADSTS70021", "AADSTS700211", "AADSTS700212",
                                            "AADSTS700213", "AADSTS7002138", "AADSTS70025"}


def test_the_agent_is_told_its_retries() -> None:
    env = {e["name"]: e.get("value") for e in agent_env(
        resolve_cloud("AzureCloud", lambda url: None), ProbeTargets(), [0.5], ["AADSTS700016"])}
    assert env["WI_PROPAGATION_WAITS"] == "0.5"
    assert env["WI_PROPAGATION_CODES"] == "AADSTS700016"
    defaults = {e["name"] for e in agent_env(resolve_cloud("AzureCloud", lambda url: None),
                                             ProbeTargets())}
    assert not defaults & {"WI_PROPAGATION_WAITS", "WI_PROPAGATION_CODES"}  # the agent's own


def test_the_agent_retries_only_the_codes_it_is_given(world, tmp_path: Path) -> None:
    lab, seeded = world
    lab.azure.refuse_next(seeded.identity, 5)  # type: ignore[union-attr]
    try:
        env = {**_wi_env(world, _token(world, tmp_path)), "WI_PROPAGATION_WAITS": "0.1,0.1",
               "WI_PROPAGATION_CODES": "AADSTS700016"}
        access = run_agent(env)[0]["tokens"]["access_token"]
    finally:
        lab.azure.refuse_next(seeded.identity, 0)  # type: ignore[union-attr]
    assert access["error"]["code"] == "AADSTS70025" and access["attempts"] == 1
