"""Static checks of the azurerm root module in terraform/ (no provider download needed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "terraform"
CHECKOV = REPO / ".ci" / "checkov.sh"
# Captured at import, before conftest points HOME at a temp dir: checkov's own venv
# is expensive to build and is meant to be reused across runs.
CHECKOV_VENV = os.environ.get("WI_CHECKOV_VENV") or str(Path.home() / ".cache" / "wi-checkov-venv")

REQUIRED_OUTPUTS = {
    "resource_group", "cluster_name", "oidc_issuer_url", "identity_name", "identity_client_id",
    "identity_principal_id", "acr_login_server", "key_vault_name", "storage_account",
    "tenant_id", "subscription_id",
}

# Every inline `#checkov:skip` in terraform/ must be listed here with its reason,
# so adding a skip is a visible, reviewed decision.
CHECKOV_SKIP_ALLOWLIST = {
    "CKV_AZURE_4": "AKS monitoring: no Log Analytics in a cost-conscious sample",
    "CKV_AZURE_115": "AKS private cluster: the operator reaches the API from a laptop/CI",
    "CKV_AZURE_117": "AKS disk encryption set: needs a customer-managed key",
    "CKV_AZURE_141": "AKS local accounts: kept for `az aks get-credentials` without kubelogin",
    "CKV_AZURE_170": "AKS paid SLA tier: not for a sample",
    "CKV_AZURE_226": "AKS ephemeral OS disk: depends on the chosen VM size",
    "CKV_AZURE_227": "AKS host encryption: needs a subscription feature registration",
    "CKV_AZURE_232": "AKS critical-addons-only taint: the single pool must run the probe pod",
    "CKV_AZURE_139": "ACR public network: private access needs Premium + private endpoint",
    "CKV_AZURE_164": "ACR content trust: Premium only",
    "CKV_AZURE_165": "ACR geo-replication: Premium only",
    "CKV_AZURE_166": "ACR quarantine: Premium only",
    "CKV_AZURE_167": "ACR untagged-manifest retention: Premium only",
    "CKV_AZURE_233": "ACR zone redundancy: Premium only",
    "CKV_AZURE_237": "ACR dedicated data endpoints: Premium only",
    "CKV_AZURE_109": "Key Vault firewall: operator and pods use the public endpoint",
    "CKV_AZURE_189": "Key Vault public network access: same as CKV_AZURE_109",
    "CKV2_AZURE_32": "Key Vault private endpoint: needs VNet and private DNS",
    "CKV_AZURE_59": "Storage public network access: pods and azurerm use the public endpoint",
    "CKV2_AZURE_1": "Storage customer-managed key: Microsoft-managed keys for the sample",
    "CKV2_AZURE_33": "Storage private endpoint: needs VNet and private DNS",
    "CKV2_AZURE_40": "Storage shared keys: azurerm 4.x refresh needs them (provider#27752)",
    "CKV2_AZURE_21": "Storage blob logging: needs Log Analytics storage insights",
    "CKV_AZURE_33": "Storage queue logging: set in azurerm_storage_account_queue_properties, "
                    "which checkov does not read (the inline block is deprecated in azurerm 4.x)",
}

# Only a network failure may turn the checkov and wheel tests into skips; a bad
# pin or a build error must fail.
NO_NETWORK_RE = re.compile(
    r"Network is unreachable|Failed to establish a new connection|Temporary failure in name resolution"
    r"|Name or service not known|ProxyError"
)
SKIP_RE = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def _tf_files() -> list[Path]:
    files = sorted(MODULE.glob("*.tf"))
    assert files, f"no .tf files in {MODULE}"
    return files


def _unquote(value: Any) -> Any:
    """python-hcl2 >= 5 keeps the quotes of string literals and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@pytest.fixture(scope="module")
def parsed() -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {}
    for path in _tf_files():
        with path.open() as fh:
            doc = hcl2.load(fh)
        for key, blocks in doc.items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def _labelled(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block in blocks:
        for label, body in block.items():
            out[_unquote(label)] = body
    return out


@pytest.fixture(scope="module")
def resources(parsed) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for block in parsed.get("resource", []):
        for rtype, named in block.items():
            for name, body in named.items():
                out.setdefault(_unquote(rtype), {})[_unquote(name)] = body
    return out


def _block(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body[name]
    return value[0] if isinstance(value, list) else value


def test_terraform_fmt_is_clean() -> None:
    if shutil.which("terraform") is None:
        pytest.skip("terraform binary not on PATH")
    proc = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(MODULE)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_versions_pin_terraform_and_providers(parsed) -> None:
    terraform = parsed["terraform"][0]
    assert _unquote(terraform["required_version"]) == ">= 1.5"
    providers = terraform["required_providers"][0]
    azurerm = providers["azurerm"]
    assert _unquote(azurerm["source"]) == "hashicorp/azurerm"
    # >= 4.60: rbac_authorization_enabled (4.42) and the subscription from the CLI login (4.60)
    match = re.fullmatch(r"~> 4\.(\d+)", _unquote(azurerm["version"]))
    assert match and int(match.group(1)) >= 60, azurerm["version"]
    assert _unquote(providers["random"]["source"]) == "hashicorp/random"
    assert _unquote(providers["time"]["source"]) == "hashicorp/time"


def test_aks_has_oidc_issuer_and_workload_identity(resources) -> None:
    (aks,) = resources["azurerm_kubernetes_cluster"].values()
    assert aks["oidc_issuer_enabled"] is True
    assert aks["workload_identity_enabled"] is True
    assert aks["role_based_access_control_enabled"] is True
    assert _unquote(_block(aks, "identity")["type"]) == "SystemAssigned"
    pools = aks["default_node_pool"]
    assert len(pools) == 1
    assert pools[0]["node_count"] == "${var.node_count}"
    assert pools[0]["vm_size"] == "${var.node_vm_size}"


def test_role_assignments(resources) -> None:
    roles = {
        (_unquote(ra["role_definition_name"]), ra["scope"], ra["principal_id"])
        for ra in resources["azurerm_role_assignment"].values()
    }
    uami = "${azurerm_user_assigned_identity.workload.principal_id}"
    assert ("AcrPull", "${azurerm_container_registry.this.id}",
            "${azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id}") in roles
    assert ("Key Vault Secrets User", "${azurerm_key_vault.this.id}", uami) in roles
    assert ("Storage Blob Data Reader", "${azurerm_storage_account.this.id}", uami) in roles
    assert ("Reader", "${azurerm_resource_group.this.id}", uami) in roles
    officers = resources["azurerm_role_assignment"]["kv_secrets_officer"]
    assert _unquote(officers["role_definition_name"]) == "Key Vault Secrets Officer"
    assert officers["for_each"] == "${local.key_vault_secret_officers}"


def test_sample_secret_waits_for_the_officer_role(resources) -> None:
    """The first apply's secret write must not race the data-plane role (provider#17015)."""
    (secret,) = resources["azurerm_key_vault_secret"].values()
    assert secret["depends_on"] == ["${time_sleep.kv_rbac_propagation}"]
    sleep = resources["time_sleep"]["kv_rbac_propagation"]
    assert sleep["depends_on"] == ["${azurerm_role_assignment.kv_secrets_officer}"]


def test_aks_ignores_the_version_the_patch_channel_moves(resources) -> None:
    (aks,) = resources["azurerm_kubernetes_cluster"].values()
    assert _unquote(aks["automatic_upgrade_channel"]) == "patch"
    assert [_unquote(x).strip("${}") for x in _block(aks, "lifecycle")["ignore_changes"]] == \
        ["kubernetes_version"]


def test_sample_targets(resources) -> None:
    (kv,) = resources["azurerm_key_vault"].values()
    assert kv["rbac_authorization_enabled"] is True and "enable_rbac_authorization" not in kv
    assert kv["purge_protection_enabled"] is True
    assert len(resources["azurerm_key_vault_secret"]) == 1
    assert len(resources["azurerm_storage_container"]) == 1
    assert len(resources["azurerm_user_assigned_identity"]) == 1
    assert len(resources["azurerm_container_registry"]) == 1
    (acr,) = resources["azurerm_container_registry"].values()
    assert acr["admin_enabled"] is False


def test_no_hard_coded_secrets(resources) -> None:
    (secret,) = resources["azurerm_key_vault_secret"].values()
    assert re.fullmatch(r"\$\{random_password\.\w+\.result\}", secret["value"]), secret["value"]
    for path in _tf_files():
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            # an attribute named like a credential must not be assigned a string literal
            match = re.match(r'\s*(\w*(password|secret|key|token)\w*)\s*=\s*"(?!\$\{)', code, re.I)
            assert match is None or match.group(1) in {"name", "content_type"}, \
                f"{path.name}:{lineno}: {line}"


def test_outputs_present_and_not_secret(parsed) -> None:
    outputs = _labelled(parsed["output"])
    assert REQUIRED_OUTPUTS <= set(outputs)
    for name, body in outputs.items():
        assert body.get("description"), f"output {name} has no description"
        assert body.get("sensitive") is not True, f"output {name} is sensitive"
        value = str(body["value"])
        for forbidden in ("random_password", "azurerm_key_vault_secret.sample.value",
                          "primary_access_key", "secondary_access_key", "connection_string",
                          "kube_config", "kube_admin_config", ".result"):
            assert forbidden not in value, f"output {name} exposes {forbidden}"


def test_variables_have_description_type_default_and_validation(parsed) -> None:
    variables = _labelled(parsed["variable"])
    required = {"prefix", "location", "kubernetes_version", "node_count", "node_vm_size", "tags",
                "workload_namespace", "workload_service_account"}
    assert required <= set(variables)
    for name, body in variables.items():
        assert body.get("description"), f"variable {name} has no description"
        assert "type" in body, f"variable {name} has no type"
        assert "default" in body, f"variable {name} has no default: the module must plan with no -var"
        if name != "tags":
            assert body.get("validation"), f"variable {name} has no validation"


def _inline_skips() -> dict[str, str]:
    skips: dict[str, str] = {}
    for path in _tf_files():
        for match in SKIP_RE.finditer(path.read_text()):
            check_id, reason = match.group(1), (match.group(2) or "").strip()
            assert reason, f"{path.name}: skip of {check_id} has no reason"
            assert check_id not in skips, f"{check_id} skipped twice"
            skips[check_id] = reason
    return skips


def test_inline_checkov_skips_match_allowlist() -> None:
    assert set(_inline_skips()) == set(CHECKOV_SKIP_ALLOWLIST)


def _checkov_failures(output: str) -> list[str]:
    return re.findall(r"^Check: (\S+): ", output, re.M)


def _run_checkov(directory: Path | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("bash") is None:
        pytest.skip("bash not available")
    env = dict(os.environ, WI_CHECKOV_VENV=CHECKOV_VENV,
               PYTHON=os.environ.get("WI_CHECKOV_PYTHON", sys.executable))
    if directory is not None:
        env["WI_CHECKOV_DIR"] = str(directory)
    proc = subprocess.run(["bash", str(CHECKOV)], capture_output=True, text=True, env=env, check=False,
                          timeout=900)
    if proc.returncode != 0 and "terraform scan results" not in proc.stdout:
        text = proc.stdout + proc.stderr
        if NO_NETWORK_RE.search(text):
            pytest.skip("checkov could not be installed (no package index reachable): " + text[-300:])
        pytest.fail("checkov did not run:\n" + text[-3000:])
    return proc


def test_checkov_passes_with_only_inline_skips() -> None:
    proc = _run_checkov()
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert "Failed checks: 0" in proc.stdout
    assert f"Skipped checks: {len(CHECKOV_SKIP_ALLOWLIST)}" in proc.stdout, proc.stdout


def test_every_allowlisted_skip_is_still_needed(tmp_path: Path) -> None:
    """Without the inline skips checkov must fail exactly the allowlisted checks:
    a skip for a check that now passes is stale and should go."""
    copy = tmp_path / "module"
    copy.mkdir()
    for path in _tf_files():
        text = "\n".join(ln for ln in path.read_text().splitlines() if not SKIP_RE.search(ln))
        (copy / path.name).write_text(text + "\n")
    proc = _run_checkov(copy)
    assert proc.returncode != 0
    assert set(_checkov_failures(proc.stdout)) == set(CHECKOV_SKIP_ALLOWLIST), proc.stdout[-5000:]


def test_checkov_script_passes_no_skips_or_config() -> None:
    script = CHECKOV.read_text()
    command = "\n".join(ln for ln in script.splitlines() if not ln.lstrip().startswith("#"))
    assert "--skip-check" not in command and "--config-file" not in command
    assert "--soft-fail" not in command and "--baseline" not in command
    assert not list(MODULE.glob(".checkov.y*ml")) and not list(REPO.glob(".checkov.y*ml"))


def test_bundled_module_dir_in_checkout() -> None:
    from wi_cli.adapters.terraform import bundled_module_dir

    assert bundled_module_dir() == MODULE


def test_wheel_ships_the_module(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    if proc.returncode != 0 and NO_NETWORK_RE.search(proc.stderr):
        pytest.skip("cannot fetch the build backend: " + proc.stderr[-300:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = dist.glob("wi_cli-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n.removeprefix("wi_cli/_terraform/") for n in zf.namelist()
                   if n.startswith("wi_cli/_terraform/") and n.endswith(".tf")}
        expected = {p.name for p in _tf_files()}
        assert shipped == expected, f"wheel has {sorted(shipped)}, module has {sorted(expected)}"
        site = tmp_path / "site"
        zf.extractall(site)
    # importlib.resources finds the packaged copy when wi_cli comes from the wheel
    probe = subprocess.run(
        [sys.executable, "-c",
         "import wi_cli, wi_cli.adapters.terraform as t; print(wi_cli.__file__); "
         "print(t.bundled_module_dir())"],
        capture_output=True, text=True, check=False, env=dict(os.environ, PYTHONPATH=str(site)),
    )
    assert probe.returncode == 0, probe.stderr
    origin, found = probe.stdout.split()
    assert Path(origin).is_relative_to(site)
    assert Path(found) == site / "wi_cli" / "_terraform"
