"""Builds the adapters a command needs from the resolved settings: the one place that knows
which adapter implements which port."""

from __future__ import annotations

import importlib

from typing import TYPE_CHECKING, Callable

from ..core.config import Settings

if TYPE_CHECKING:
    from ..adapters.azure.clients import AzureClients
    from ..adapters.kube.client import KubeClients
    from ..core.trust import Ports
    from ..core.cloud import Cloud
    from ..core.migrate import MigratePorts
    from ..core.plan import Consent
    from ..core.ports import ArmAccount, Kubeconfigs
    from ..core.probe import ProbePorts
    from ..core.provision import Terraform
    from ..doctor.facts import Context, Scope


def cloud(s: Settings) -> "Cloud":
    from ..adapters.web import cloud as resolve

    return resolve(s.cloud, s.env)


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
    from ..adapters.kube.api import KubeApi
    from ..core.trust import Ports

    azure = azure_clients(s)
    return Ports(Identities(azure), Rbac(azure), Clusters(azure), KubeApi(kube_clients(s)),
                 s.subscription)


def migrate_ports(s: Settings) -> "MigratePorts":
    """`wi bind`'s ports, the same Kubernetes connection for the pod-identity objects and
    workloads, Entra for the live exchange, and the files --write-manifests writes."""
    from ..adapters.azure.clusters import Clusters
    from ..adapters.azure.entra import Entra
    from ..adapters.azure.identities import Identities
    from ..adapters.azure.rbac import Rbac
    from ..adapters.kube.api import KubeApi
    from ..adapters.manifests import ManifestFiles
    from ..core.migrate import MigratePorts
    from ..core.trust import Ports

    cloud_ = cloud(s)
    azure = azure_clients(s, cloud_)
    kube = KubeApi(kube_clients(s))
    return MigratePorts(Ports(Identities(azure), Rbac(azure), Clusters(azure), kube,
                              s.subscription), kube, Entra(cloud_, s.env), ManifestFiles())


def doctor_context(s: Settings, scope: "Scope") -> "Context":
    """Doctor's adapters: the cluster through the kubeconfig, Azure when a subscription is set,
    Entra and the issuer's public documents. The SDKs are imported here, in one thread (fact
    threads importing them at once race on shared modules)."""
    from ..adapters.azure.account import AzureAccount
    from ..adapters.azure.entra import Entra
    from ..adapters.kube.api import KubeApi
    from ..adapters.web import Web
    from ..doctor.facts import Context

    cloud_ = cloud(s)
    account = AzureAccount(azure_clients(s, cloud_)) if s.subscription else None
    kube = kube_clients(s)
    _ = kube.server  # reads the kubeconfig now: a broken one is one error, before any thread
    if account is not None:
        importlib.import_module("azure.identity")
    state_cluster = ((s.state.cluster_name, s.state.resource_group)
                     if s.state and s.state.cluster_name and s.state.resource_group else None)
    return Context(scope, KubeApi(kube), account, Entra(cloud_, s.env), Web(s.env), cloud_, s,
                   state_cluster, kube.context_name)


def provisioning(s: Settings) -> tuple["ArmAccount", "Kubeconfigs"]:
    """What `wi provision` reads around Terraform, and where it merges the kubeconfig."""
    from ..adapters.azure.provisioning import Arm
    from ..adapters.kube.kubeconfig import KubeconfigFiles

    return Arm(cloud(s), s.env), KubeconfigFiles()


def probe_ports(s: Settings, cloud_: "Cloud") -> "ProbePorts":
    """The probe's pod through the kubeconfig; Azure (the identity, its credentials, the data
    planes to check) when a subscription is set."""
    from ..adapters.kube.api import KubeApi
    from ..core.probe import ProbePorts

    pods = KubeApi(kube_clients(s))
    if not s.subscription:
        return ProbePorts(pods)
    from ..adapters.azure.clusters import Clusters
    from ..adapters.azure.identities import Identities
    from ..adapters.azure.resources import Resources

    azure = azure_clients(s, cloud_)
    return ProbePorts(pods, Identities(azure), Resources(azure), s.subscription, Clusters(azure))


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
