"""`wi provision`: Create AKS with workload identity, an identity, ACR and sample targets (Terraform)."""

from __future__ import annotations

import typer

from ..core.errors import NotImplementedYet
from .options import global_options

HELP = """Create everything workload identity needs with Terraform: an AKS cluster with the OIDC issuer and workload identity on, a user-assigned managed identity, ACR, and sample targets (Key Vault, Storage) the probe can show permissions on. Shows live progress, merges the kubeconfig, and saves the values the other commands use as defaults."""


@global_options
def provision() -> None:
    raise NotImplementedYet("provision")


def register(app: typer.Typer) -> None:
    app.command(
        "provision", help=HELP, short_help="Create AKS with workload identity, an identity, ACR and sample targets (Terraform).",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )(provision)
