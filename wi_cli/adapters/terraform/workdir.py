"""The root module wi ships, and its copy in the working directory Terraform runs in."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from ...core.errors import ConfigError
from .errors import TerraformFailed, TerraformMissing

MODULE_PATTERNS = ("*.tf", "*.tf.json", "*.tfvars", "*.tfvars.json")


def bundled_module_dir() -> Path:
    """The azurerm root module: ``wi_cli/_terraform`` in a wheel, ``terraform/`` in a checkout."""
    packaged = resources.files("wi_cli").joinpath("_terraform")
    if packaged.is_dir() and any(p.name.endswith(".tf") for p in packaged.iterdir()):
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "terraform"
    if checkout.is_dir():
        return checkout
    raise TerraformMissing(
        "the Terraform module is not bundled with this installation of wi",
        ["reinstall wi, or pass --module DIR pointing at a copy of the module"],
    )


def copy_module(module_dir: Path, workdir: Path) -> Path:
    """Copy the module's files into the workdir, keeping ``.terraform`` and state.

    Files that a previous copy left but the module no longer has are removed,
    so a re-run never applies resources from an older module.
    """
    if not module_dir.is_dir():
        raise TerraformFailed(
            f"Terraform module directory {module_dir} does not exist",
            command="prepare", returncode=1,
            remediation=["pass --module DIR pointing at a Terraform root module"],
        )
    wanted = {p.name: p for pattern in MODULE_PATTERNS for p in module_dir.glob(pattern)}
    if not any(name.endswith((".tf", ".tf.json")) for name in wanted):
        raise TerraformFailed(f"{module_dir} contains no .tf files", command="prepare",
                              returncode=1)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        for pattern in MODULE_PATTERNS:
            for stale in workdir.glob(pattern):
                if stale.name not in wanted:
                    stale.unlink()
        for name, src in wanted.items():
            shutil.copy2(src, workdir / name)
    except OSError as exc:
        raise ConfigError(  # a local setting, not Terraform: exit 3
            f"Cannot copy the Terraform module into {workdir}: {exc.strerror or exc}.",
            ["Pass --workdir DIR with a directory you can write to."],
        ) from None
    return workdir
