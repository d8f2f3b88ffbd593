"""One Azure account in one subscription: the identities, clusters and RBAC adapters over one
set of SDK clients (one sign-in)."""

from __future__ import annotations

from .clients import AzureClients
from .clusters import Clusters
from .errors import azure_errors
from .identities import Identities
from .rbac import Rbac


class AzureAccount:
    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients
        self.identities = Identities(clients)
        self.clusters = Clusters(clients)
        self.rbac = Rbac(clients)

    @property
    def subscription(self) -> str:
        return self.clients.subscription_id

    def sign_in(self) -> None:
        """Get the operator's ARM token now, so a credential problem is said once, first."""
        with azure_errors("signing in to Azure"):
            self.clients.credential.get_token(self.clients.cloud.arm_scope)
