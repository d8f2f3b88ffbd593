"""What `wi provision` reads of Azure around Terraform: the preflight's reads and the cluster's
user kubeconfig, for any subscription (the preflight may find the only one the caller sees)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ...core.cloud import Cloud
from ...core.config import Timeouts
from ...core.errors import TerraformError
from ...core.models import PermissionBlock
from . import preflight
from .clients import AzureClients
from .errors import azure_errors


class Arm:
    def __init__(self, cloud: Cloud, env: Mapping[str, str],
                 timeouts: Timeouts | None = None) -> None:
        self.base = AzureClients(cloud, None, env=env, timeouts=timeouts)
        self._clients: dict[str, AzureClients] = {}

    def _in(self, subscription: str) -> AzureClients:
        key = subscription.lower()
        if key not in self._clients:
            self._clients[key] = self.base.for_subscription(subscription)
        return self._clients[key]

    def visible_subscriptions(self) -> list[str]:
        return preflight.enabled_subscriptions(self.base)

    def permissions_at(self, subscription: str, scope: str) -> list[PermissionBlock]:
        return preflight.permissions_at(self._in(subscription), scope)

    def provider_states(self, subscription: str,
                        namespaces: Iterable[str]) -> dict[str, str | None]:
        return preflight.provider_states(self._in(subscription), subscription, namespaces)

    def location_names(self, subscription: str) -> list[str]:
        return preflight.location_names(self._in(subscription), subscription)

    def user_kubeconfig(self, subscription: str, resource_group: str, name: str) -> bytes:
        clusters = self._in(subscription).containerservice.managed_clusters
        with azure_errors(f"fetching the user kubeconfig of AKS cluster {name}"):
            creds = clusters.list_cluster_user_credentials(resource_group, name)
        kubeconfigs = list(getattr(creds, "kubeconfigs", None) or [])
        if not kubeconfigs or not kubeconfigs[0].value:
            raise TerraformError(f"AKS returned no user kubeconfig for cluster {name}.",
                                 [f"az aks get-credentials -g {resource_group} -n {name}"])
        return bytes(kubeconfigs[0].value)
