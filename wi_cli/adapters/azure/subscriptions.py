"""ARM across subscriptions, for a fleet run: the subscriptions the operator can list and the
AKS clusters of each (one sign-in, the same credential for every subscription)."""

from __future__ import annotations

from ...core.models import Cluster
from .clients import AzureClients
from .clusters import Clusters
from .preflight import enabled_subscriptions


class AzureSubscriptions:
    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients

    def visible(self) -> list[str]:
        return enabled_subscriptions(self.clients)

    def clusters_in(self, subscription: str) -> list[Cluster]:
        return Clusters(self.clients.for_subscription(subscription)).list()
