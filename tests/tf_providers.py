"""The real Terraform providers for tests: ../shared/tools/tf-validate unpacks azurerm 4.81.0,
random 3.9.0 and time 0.14.0 (built from source) into a cache and writes a dev-override CLI
config; `terraform init` (which `wi provision` runs) needs a filesystem mirror instead, built
here from the same cache with symlinks. Nothing is copied into the repository.

Without ../shared or terraform the callers skip, except in CI (CI=true), where they fail."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
TF_VALIDATE = REPO.parent / "shared" / "tools" / "tf-validate"
# Captured at import, before conftest points HOME at a temp dir: the unpacked providers (a few
# hundred MB) are meant to be reused across runs.
CACHE = Path(os.environ.get("WI_TF_PROVIDERS_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wi-tf-providers")
PROVIDERS = ("azurerm", "random", "time")


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the checks with the real providers must run)")
    pytest.skip(reason)


class _CacheLock:
    """tf-validate rewrites the cache's CLI config on every run: readers hold the lock too."""

    def __enter__(self) -> None:
        CACHE.mkdir(parents=True, exist_ok=True)
        self._fh = open(CACHE / ".wi-tests.lock", "w")
        fcntl.flock(self._fh, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


def tf_validate(module: Path) -> dict[str, Any]:
    """tf-validate's JSON for ``module``; also (re)fills the provider cache."""
    if not TF_VALIDATE.is_file():
        unavailable(f"{TF_VALIDATE} is absent (the shared tools live next to the repository)")
    if shutil.which("terraform") is None:
        unavailable("terraform is not on PATH")
    env = dict(os.environ, WI_TF_PROVIDERS_CACHE=str(CACHE))
    with _CacheLock():
        proc = subprocess.run(["bash", str(TF_VALIDATE), str(module)], capture_output=True,
                              text=True, env=env, check=False, timeout=600)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"tf-validate printed no JSON (exit {proc.returncode}):\n"
                    f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def dev_override_config(folder: Path) -> Path:
    """A copy (in ``folder``) of the CLI config tf-validate wrote: dev overrides, enough for
    `terraform validate` and `terraform test`. Call after :func:`tf_validate`."""
    with _CacheLock():
        copy = folder / "dev-overrides.tfrc"
        shutil.copyfile(CACHE / "terraformrc", copy)
    return copy


def filesystem_mirror(folder: Path) -> Path:
    """A CLI config whose filesystem mirror (in ``folder``) links to the cached providers, so that
    `terraform init` installs them offline. Call after :func:`tf_validate`."""
    mirror = folder / "mirror"
    platform = json.loads(subprocess.run(["terraform", "version", "-json"], capture_output=True,
                                         text=True, check=True).stdout)["platform"]
    for name in PROVIDERS:
        version = (CACHE / name / ".version").read_text().strip().rsplit("_v", 1)[1]
        target = mirror / "registry.terraform.io" / "hashicorp" / name / version / platform
        target.mkdir(parents=True, exist_ok=True)
        (target / f"terraform-provider-{name}_v{version}").symlink_to(
            CACHE / name / f"terraform-provider-{name}")
    rc = folder / "mirror.tfrc"
    rc.write_text('provider_installation {\n  filesystem_mirror {\n'
                  f'    path    = "{mirror}"\n'
                  '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n')
    return rc
