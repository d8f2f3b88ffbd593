"""Builds the adapters a command needs from the resolved settings: the one place that knows
which adapter implements which port."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..core.config import Settings

if TYPE_CHECKING:
    from ..adapters.azure.clients import AzureClients
    from ..adapters.kube.client import KubeClients
    from ..core.bind import Ports
    from ..core.cloud import Cloud
    from ..core.plan import Consent
    from ..core.provision import Terraform


def cloud(s: Settings) -> "Cloud":
    from ..core.cloud import resolve_cloud

    return resolve_cloud(s.cloud, s.env)


def azure_clients(s: Settings, cloud_: "Cloud | None" = None) -> "AzureClients":
    from ..adapters.azure.clients import AzureClients

    return AzureClients(cloud_ or cloud(s), s.subscription, env=s.env)


def kube_clients(s: Settings) -> "KubeClients":
    from ..adapters.kube.client import KubeClients

    return KubeClients(s.kubeconfig_path, s.context)


def bind_ports(s: Settings) -> "Ports":
    from ..adapters.azure.clusters import Clusters
    from ..adapters.azure.identities import Identities
    from ..adapters.azure.rbac import Rbac
    from ..adapters.kube.workloads import Workloads
    from ..core.bind import Ports

    azure = azure_clients(s)
    return Ports(Identities(azure), Rbac(azure), Clusters(azure), Workloads(kube_clients(s)),
                 s.subscription)


def terraform(s: Settings) -> "Terraform":
    """Terraform for the azurerm module, signed in as the operator (the AZURE_* variables)."""
    from ..adapters.terraform import AzurermTerraform

    return AzurermTerraform(s.env)


def consent(s: Settings, assume_yes: bool) -> "Consent":
    """-y answers yes; otherwise ask on the terminal, unless nobody can answer (-o json, no TTY)."""
    import typer

    from ..core.plan import Consent

    ask: Callable[[str], bool] | None = None
    if not s.json and s.environment.interactive:
        ask = lambda question: typer.confirm(question, default=False, err=True)  # noqa: E731
    return Consent(assume_yes, ask)
