"""terraform/ against the real provider schemas: `terraform validate` (../shared/tools/tf-validate,
azurerm 4.81.0, random 3.9.0 and time 0.14.0 built from source) and `terraform test` with mocked
providers from the same builds (dev overrides, no registry).

Without ../shared or terraform these tests skip, except in CI (CI=true), where they fail."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "terraform"
TF_VALIDATE = REPO.parent / "shared" / "tools" / "tf-validate"
# Captured at import, before conftest points HOME at a temp dir: the unpacked providers (a few
# hundred MB) are meant to be reused across runs.
PROVIDERS_CACHE = Path(os.environ.get("WI_TF_PROVIDERS_CACHE")
                       or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                       / "wi-tf-providers")
DEV_OVERRIDE_NOTICE = "Provider development overrides are in effect"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the provider schema checks must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def validated() -> dict[str, Any]:
    """tf-validate's JSON. It also unpacks the providers and writes the dev-override CLI config
    that `terraform test` reuses; a lock keeps parallel workers from unpacking at once."""
    if not TF_VALIDATE.is_file():
        _unavailable(f"{TF_VALIDATE} is absent (the shared tools live next to the repository)")
    if shutil.which("terraform") is None:
        _unavailable("terraform is not on PATH")
    PROVIDERS_CACHE.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, WI_TF_PROVIDERS_CACHE=str(PROVIDERS_CACHE))
    with open(PROVIDERS_CACHE / ".wi-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run(["bash", str(TF_VALIDATE), str(MODULE)], capture_output=True,
                              text=True, env=env, check=False, timeout=600)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"tf-validate printed no JSON (exit {proc.returncode}):\n"
                    f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def test_module_is_valid_for_the_real_providers(validated) -> None:
    errors = [d for d in validated["diagnostics"] if d["severity"] == "error"]
    assert validated["valid"] and validated["error_count"] == 0, errors


def test_module_uses_no_deprecated_or_otherwise_warned_arguments(validated) -> None:
    warnings = [f"{d.get('address', '')}: {d['summary']}: {d.get('detail', '')[:200]}"
                for d in validated["diagnostics"]
                if d["severity"] == "warning" and d["summary"] != DEV_OVERRIDE_NOTICE]
    assert warnings == []


def _terraform_test(*args: str) -> subprocess.CompletedProcess[str]:
    rc = PROVIDERS_CACHE / "terraformrc"
    assert rc.is_file(), f"tf-validate did not write {rc}"
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1")
    env.pop("TF_CLI_ARGS", None)
    work = Path(os.environ["HOME"]) / "module"  # a copy: terraform test writes into the module dir
    shutil.copytree(MODULE, work, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return subprocess.run(["terraform", "test", "-no-color", *args], cwd=work, capture_output=True,
                          text=True, env=env, check=False, timeout=600)


def test_variable_validation_and_wiring_with_mocked_providers(validated) -> None:
    proc = _terraform_test()
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "Success!" in proc.stdout and " 0 failed" in proc.stdout
    # every validation rule and the officers precondition has a run that expects its failure
    assert proc.stdout.count("... pass") >= 16, proc.stdout


def test_example_tfvars_plans_with_mocked_providers(validated) -> None:
    proc = _terraform_test("-test-directory=tests/example", "-var-file=terraform.tfvars.example")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert 'run "example_tfvars"... pass' in proc.stdout
