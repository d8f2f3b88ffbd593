"""Builds the adapters a command needs from the resolved settings: the one place that knows
which adapter implements which port."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable

from ..core.config import Settings

if TYPE_CHECKING:
    from ..core.bind import Ports
    from ..core.plan import Consent
    from ..core.provision import Terraform


def bind_ports(s: Settings) -> "Ports":
    from ..adapters.azure.clients import AzureClients
    from ..adapters.azure.clusters import Clusters
    from ..adapters.azure.identities import Identities
    from ..adapters.azure.rbac import Rbac
    from ..adapters.kube.client import KubeClients
    from ..adapters.kube.workloads import Workloads
    from ..core.bind import Ports
    from ..core.cloud import resolve_cloud

    cloud = resolve_cloud(s.cloud)
    azure = AzureClients(cloud, s.subscription)
    return Ports(Identities(azure), Rbac(azure), Clusters(azure),
                 Workloads(KubeClients(s.kubeconfig, s.context)), s.subscription)


def terraform() -> "Terraform":
    """Terraform for the azurerm module, signed in as the operator (the AZURE_* variables)."""
    import os

    from ..adapters.terraform import AzurermTerraform

    return AzurermTerraform(os.environ)


def interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def consent(s: Settings, assume_yes: bool) -> "Consent":
    """-y answers yes; otherwise ask on the terminal, unless nobody can answer (-o json, no TTY)."""
    import typer

    from ..core.plan import Consent

    ask: Callable[[str], bool] | None = None
    if not s.json and interactive():
        ask = lambda question: typer.confirm(question, default=False, err=True)  # noqa: E731
    return Consent(assume_yes, ask)
