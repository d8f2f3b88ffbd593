"""The ARM reads of `wi provision`'s preflight: the caller's permissions at a scope, resource
provider registration states, the subscription's regions, the subscriptions the caller sees.

The permissions at a *subscription* and the resource providers are plain GETs through the
SubscriptionClient's pipeline (its `send_request`: the same credential, cloud, TLS settings and
retry policy as every other call). The permissions API at subscription scope is not in the
authorization SDK (Azure/azure-rest-api-specs#19473, ../shared/contracts/NOTES.md §4), and the
providers API would need azure-mgmt-resource, a large package, for two GETs. Locations and
subscriptions use azure-mgmt-resource-subscriptions, already a dependency.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterable
from urllib.parse import quote

from ...core.preflight import PermissionBlock
from .errors import azure_errors

if TYPE_CHECKING:
    from .clients import AzureClients

AUTHORIZATION_API = "2022-04-01"  # Microsoft.Authorization/permissions
RESOURCES_API = "2022-09-01"  # Microsoft.Resources providers, the version azurerm 4.x uses


def permissions_at(azure: "AzureClients", scope: str) -> list[PermissionBlock]:
    """The caller's effective permission blocks at ``scope`` (each role's block kept apart,
    wildcards as written; deny assignments and conditions are not reflected)."""
    url = (f"{scope.rstrip('/')}/providers/Microsoft.Authorization/permissions"
           f"?api-version={AUTHORIZATION_API}")
    with azure_errors(f"reading the caller's permissions at {scope}"):
        return [PermissionBlock.from_json(item) for page in azure.get_pages(url)
                for item in page.get("value") or []]


def _provider_state(azure: "AzureClients", subscription: str, namespace: str) -> str | None:
    from azure.core.exceptions import HttpResponseError

    url = (f"/subscriptions/{subscription}/providers/{quote(namespace)}"
           f"?api-version={RESOURCES_API}")
    with azure_errors(f"reading the registration of resource provider {namespace}"):
        try:
            (body,) = list(azure.get_pages(url))
        except HttpResponseError as exc:
            # 404 InvalidResourceNamespace: the subscription does not know the namespace
            if exc.status_code == 404:
                return None
            raise
    state = body.get("registrationState") if isinstance(body, dict) else None
    return str(state) if state else None


def provider_states(azure: "AzureClients", subscription: str,
                    namespaces: Iterable[str]) -> dict[str, str | None]:
    """registrationState of each namespace (Registered, NotRegistered, Registering,
    Unregistering; None when the subscription does not know it), read in parallel."""
    names = list(dict.fromkeys(namespaces))
    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        states = list(pool.map(lambda ns: _provider_state(azure, subscription, ns), names))
    return dict(zip(names, states))


def location_names(azure: "AzureClients", subscription: str) -> list[str]:
    """The region names (``westeurope``) the subscription can deploy to."""
    with azure_errors(f"listing the regions of subscription {subscription}"):
        return [loc.name for loc in azure.subscriptions.subscriptions.list_locations(subscription)
                if loc.name]


def enabled_subscriptions(azure: "AzureClients") -> list[str]:
    """The ids of the enabled subscriptions the caller can see."""
    with azure_errors("listing the subscriptions the credential can see"):
        return [s.subscription_id for s in azure.subscriptions.subscriptions.list()
                if s.subscription_id and (s.state is None or s.state == "Enabled")]
