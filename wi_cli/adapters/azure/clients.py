"""SDK clients for the chosen cloud, created on first use (the SDK imports are heavy)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ...core.cloud import Cloud
from ...core.config import Timeouts
from ...core.errors import ConfigError
from .credential import RETRY, operator_credential, transport_options

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


class AzureClients:
    def __init__(self, cloud: Cloud, subscription_id: str | None,
                 credential: "TokenCredential | None" = None,
                 env: Mapping[str, str] | None = None, timeouts: Timeouts | None = None,
                 **overrides: Any) -> None:
        self.cloud = cloud
        self._subscription_id = subscription_id
        self.env = {} if env is None else env  # the settings' environment (its CA bundle)
        self.timeouts = timeouts  # None: azure-core's defaults
        self._credential = credential
        self._overrides = overrides  # e.g. retry_total for tests and benchmarks

    @property
    def subscription_id(self) -> str:
        if not self._subscription_id:
            raise ConfigError("No Azure subscription is selected.",
                              ["Pass --subscription ID or set AZURE_SUBSCRIPTION_ID."])
        return self._subscription_id

    def for_subscription(self, subscription_id: str) -> "AzureClients":
        """Clients for another subscription, sharing this one's credential (one sign-in)."""
        if self._subscription_id and subscription_id.lower() == self._subscription_id.lower():
            return self
        return AzureClients(self.cloud, subscription_id, self.credential, self.env,
                            self.timeouts, **self._overrides)

    @cached_property
    def credential(self) -> "TokenCredential":
        return self._credential or operator_credential(self.cloud, self.env, self.timeouts)

    def _options(self) -> dict[str, Any]:
        return {"base_url": self.cloud.arm_base_url, "credential_scopes": [self.cloud.arm_scope],
                **transport_options(self.env, self.timeouts), **RETRY, **self._overrides}

    def get_pages(self, url: str) -> Iterator[dict[str, Any]]:
        """GET an ARM list as plain JSON, following nextLink, through the SDK pipeline (the same
        credential, cloud, TLS and retry policy as every other call, none of the model
        deserialization, which costs most of the CPU at hundreds of lists). ARM errors raise
        HttpResponseError with the ARM error format; map them with azure_errors."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        next_url: str | None = url
        while next_url:
            response = self.subscriptions.send_request(HttpRequest("GET", next_url))
            if response.status_code != 200:
                raise HttpResponseError(response=response, error_format=ARMErrorFormat)
            body = response.json()
            yield body
            next_url = body.get("nextLink") if isinstance(body, dict) else None

    def list_json(self, url: str) -> list[dict[str, Any]]:
        """Every item (``value``) of an ARM list."""
        return [item for page in self.get_pages(url) for item in page.get("value") or []
                if isinstance(item, dict)]

    @cached_property
    def containerservice(self) -> Any:
        from azure.mgmt.containerservice import ContainerServiceClient

        return ContainerServiceClient(self.credential, self.subscription_id, **self._options())

    @cached_property
    def msi(self) -> Any:
        from azure.mgmt.msi import ManagedServiceIdentityClient

        return ManagedServiceIdentityClient(self.credential, self.subscription_id,
                                            **self._options())

    @cached_property
    def authorization(self) -> Any:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return AuthorizationManagementClient(self.credential, self.subscription_id,
                                             **self._options())

    @cached_property
    def subscriptions(self) -> Any:
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        return SubscriptionClient(self.credential, **self._options())
