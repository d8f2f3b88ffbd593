"""terraform/ against the real provider schemas: `terraform validate` (../shared/tools/tf-validate,
azurerm 4.81.0, random 3.9.0 and time 0.14.0 built from source) and `terraform test` with mocked
providers from the same builds (tf-validate's dev overrides, no registry).

Without ../shared or terraform these tests skip, except in CI (CI=true), where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tf_providers import dev_override_config, tf_validate

MODULE = Path(__file__).resolve().parents[2] / "terraform"
DEV_OVERRIDE_NOTICE = "Provider development overrides are in effect"


@pytest.fixture(scope="module")
def validated() -> dict[str, Any]:
    return tf_validate(MODULE)


def test_module_is_valid_for_the_real_providers(validated) -> None:
    errors = [d for d in validated["diagnostics"] if d["severity"] == "error"]
    assert validated["valid"] and validated["error_count"] == 0, errors


def test_module_uses_no_deprecated_or_otherwise_warned_arguments(validated) -> None:
    warnings = [f"{d.get('address', '')}: {d['summary']}: {d.get('detail', '')[:200]}"
                for d in validated["diagnostics"]
                if d["severity"] == "warning" and d["summary"] != DEV_OVERRIDE_NOTICE]
    assert warnings == []


def _terraform_test(*args: str) -> subprocess.CompletedProcess[str]:
    home = Path(os.environ["HOME"])
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(dev_override_config(home)), TF_IN_AUTOMATION="1")
    env.pop("TF_CLI_ARGS", None)
    work = home / "module"  # a copy: terraform test writes into the module dir
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
