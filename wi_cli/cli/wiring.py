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
    from ..doctor.fleet import FleetReads


def _document_timeout(s: Settings) -> float:
    """Public documents (cloud metadata, issuer discovery) wait at most the adapter's cap."""
    from ..adapters.web import FETCH_TIMEOUT_SECONDS

    return min(s.timeouts.read, FETCH_TIMEOUT_SECONDS)


def cloud(s: Settings) -> "Cloud":
    from ..adapters.web import cloud as resolve

    return resolve(s.cloud, s.env, _document_timeout(s))


def azure_clients(s: Settings, cloud_: "Cloud | None" = None) -> "AzureClients":
    from ..adapters.azure.clients import AzureClients

    return AzureClients(cloud_ or cloud(s), s.subscription, env=s.env, timeouts=s.timeouts)


def kube_clients(s: Settings, context: str | None = None) -> "KubeClients":
    """The clients of ``context`` (None: the settings' context, else the kubeconfig's current
    one), with the settings' connect and read timeouts."""
    from ..adapters.kube.client import KubeClients

    return KubeClients(s.kubeconfig_path, context or s.context,
                       timeout=(s.timeouts.connect, s.timeouts.read))


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
                              s.subscription), kube, Entra(cloud_, s.env, s.timeouts),
                        ManifestFiles())


def doctor_context(s: Settings, scope: "Scope") -> "Context":
    """Doctor's adapters for the one context the settings name (see :class:`DoctorWiring`)."""
    return DoctorWiring(s, scope).context(s.context)


class DoctorWiring:
    """Doctor's adapters: each context's cluster through the kubeconfig (its own clients), and,
    shared by every context, Azure when a subscription is set, Entra and the issuers' public
    documents (``shared``: behind one cache, for a fleet run). The SDKs are imported here, in
    one thread (fact threads importing them at once race on shared modules)."""

    def __init__(self, s: Settings, scope: "Scope", shared: bool = False) -> None:
        from ..adapters.azure.account import AzureAccount
        from ..adapters.azure.entra import Entra
        from ..adapters.web import Web
        from ..doctor.facts.cache import Memo, SharedAzure, SharedWeb

        self.settings, self.scope, self.shared = s, scope, shared
        self.cloud = cloud(s)
        self.account = AzureAccount(azure_clients(s, self.cloud)) if s.subscription else None
        memo = Memo()
        self.azure = (SharedAzure(self.account, memo) if shared and self.account is not None
                      else self.account)
        web = Web(s.env, _document_timeout(s))
        self.web = SharedWeb(web, memo) if shared else web
        self.entra = Entra(self.cloud, s.env, s.timeouts)
        if self.account is not None:
            importlib.import_module("azure.identity")
        importlib.import_module("kubernetes.config")
        self.state_cluster = ((s.state.cluster_name, s.state.resource_group)
                              if s.state and s.state.cluster_name and s.state.resource_group
                              else None)

    def context(self, name: str | None) -> "Context":
        """The context ``name`` (None: the kubeconfig's current one); the `wi provision` state's
        cluster applies to the one context of a plain run, and in a fleet to the state's own."""
        from ..adapters.kube.api import KubeApi
        from ..doctor.facts import Context

        s = self.settings
        kube = kube_clients(s, name)
        _ = kube.server  # reads the kubeconfig now: a broken one is one error, before any call
        state_context = s.state.kube_context if s.state else None
        state = self.state_cluster if not self.shared or name == state_context else None
        return Context(self.scope, KubeApi(kube), self.azure, self.entra, self.web, self.cloud,
                       s, state, kube.context_name)

    def reads(self, subscriptions: list[str] | None) -> "FleetReads":
        """What the cross-cluster step reads: ARM across subscriptions, the issuers' documents."""
        from ..adapters.azure.subscriptions import AzureSubscriptions
        from ..doctor.fleet import FleetReads

        arm = AzureSubscriptions(self.account.clients) if self.account is not None else None
        return FleetReads(arm, self.web, subscriptions, self.settings.subscription)


def kube_context_names(s: Settings) -> list[str]:
    """Every context of the kubeconfig, merged as kubectl merges a KUBECONFIG list."""
    from ..adapters.kube.kubeconfig import load_merged
    from ..core.errors import ConfigError

    doc, read = load_merged(s.kubeconfig_path)
    if not read:
        raise ConfigError(f"No kubeconfig found at {s.kubeconfig_path}.",
                          ["Run 'wi provision' (or 'az aks get-credentials'), or pass "
                           "--kubeconfig PATH."])
    return [c["name"] for c in doc.get("contexts") or []]


def provisioning(s: Settings) -> tuple["ArmAccount", "Kubeconfigs"]:
    """What `wi provision` reads around Terraform, and where it merges the kubeconfig."""
    from ..adapters.azure.provisioning import Arm
    from ..adapters.kube.kubeconfig import KubeconfigFiles

    return Arm(cloud(s), s.env, s.timeouts), KubeconfigFiles()


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
