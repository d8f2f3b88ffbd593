"""Terraform for azurerm root modules, signed in as the operator wi itself uses.

:class:`AzurermTerraform` is what ``wi provision`` is given (the ``Terraform`` port of
:mod:`wi_cli.core.provision`): the bundled module, and a runner per working directory whose
environment carries the operator's Azure account the way azurerm reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from .runner import Runner
from .workdir import bundled_module_dir

ARM_ENVIRONMENTS = {"azurecloud": "public", "azurechinacloud": "china",
                    "azureusgovernment": "usgovernment"}
# the operator's credentials as azure-identity reads them -> as azurerm reads them
_CREDENTIAL_VARS = {"AZURE_CLIENT_ID": "ARM_CLIENT_ID", "AZURE_CLIENT_SECRET": "ARM_CLIENT_SECRET",
                    "AZURE_CLIENT_CERTIFICATE_PATH": "ARM_CLIENT_CERTIFICATE_PATH",
                    "AZURE_FEDERATED_TOKEN_FILE": "ARM_OIDC_TOKEN_FILE_PATH"}


def arm_env(subscription_id: str | None = None, tenant_id: str | None = None,
            cloud: str | None = None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``ARM_*`` variables azurerm reads, for ``Runner(env_extra=...)``.

    azurerm does not read the ``AZURE_*`` variables that DefaultAzureCredential (and so the rest
    of wi) uses, so a service principal or workload identity given that way is passed on as its
    ``ARM_*`` equivalent; ``ARM_*`` variables the user set already win. ``cloud`` is a cloud name
    (ARM_ENVIRONMENT) or an ARM metadata URL (ARM_METADATA_HOSTNAME).
    """
    env = {} if env is None else env
    out: dict[str, str] = {}
    if subscription_id:
        out["ARM_SUBSCRIPTION_ID"] = subscription_id
    if tenant_id:
        out["ARM_TENANT_ID"] = tenant_id
    for azure_var, arm_var in _CREDENTIAL_VARS.items():
        if env.get(azure_var):
            out[arm_var] = env[azure_var]
    if "ARM_OIDC_TOKEN_FILE_PATH" in out:
        out["ARM_USE_OIDC"] = "true"
    if cloud:
        if cloud.lower() in ARM_ENVIRONMENTS:
            out["ARM_ENVIRONMENT"] = ARM_ENVIRONMENTS[cloud.lower()]
        elif cloud.startswith("https://"):
            out["ARM_METADATA_HOSTNAME"] = urlsplit(cloud).netloc
    return {k: v for k, v in out.items() if not env.get(k)}


class AzurermTerraform:
    """Opens runners on the operator's environment (``env``: the process environment)."""

    def __init__(self, env: Mapping[str, str], binary: str | None = None) -> None:
        self.env = env
        self.binary = binary

    def bundled_module(self) -> Path:
        return bundled_module_dir()

    def runner(self, workdir: Path, module: Path, *, subscription: str | None,
               tenant_id: str | None, cloud: str | None) -> Runner:
        """A runner for ``module`` in ``workdir``; a missing or too old terraform raises here
        (exit 3), before anything is written."""
        runner = Runner(workdir, module, arm_env(subscription, tenant_id, cloud, self.env),
                        env=self.env, terraform=self.binary)
        _ = runner.terraform
        return runner
