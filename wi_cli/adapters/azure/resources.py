"""ARM resources of any type, read as plain JSON through the SubscriptionClient's pipeline (the
same credential, cloud, TLS settings and retry policy as every other call): `wi probe` finds
its Key Vault and storage account by id or by name without a management SDK for each type."""

from __future__ import annotations

from typing import Any

from ...core.models import ArmResource
from .clients import AzureClients
from .errors import azure_errors


def _resource(body: dict[str, Any]) -> ArmResource:
    properties = body.get("properties")
    return ArmResource(str(body.get("id") or ""), str(body.get("name") or ""),
                       properties if isinstance(properties, dict) else {})


class Resources:
    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients

    def _get(self, url: str, doing: str) -> dict[str, Any] | None:
        """The JSON body of a GET; None on 404 (ARM's other errors raise, as WiErrors)."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        with azure_errors(doing):
            response = self.clients.subscriptions.send_request(HttpRequest("GET", url))
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise HttpResponseError(response=response, error_format=ARMErrorFormat)
            body = response.json()
        return body if isinstance(body, dict) else {}

    def get(self, resource_id: str, api_version: str) -> ArmResource | None:
        body = self._get(f"{resource_id}?api-version={api_version}", f"reading {resource_id}")
        return _resource(body) if body is not None else None

    def named(self, subscription: str, resource_type: str, api_version: str,
              name: str) -> ArmResource | None:
        """The resource of this type named ``name`` (ARM compares names without regard to case),
        from the subscription's list of them, page by page."""
        url: str | None = (f"/subscriptions/{subscription}/providers/{resource_type}"
                           f"?api-version={api_version}")
        while url:
            page = self._get(url, f"looking up {resource_type} {name}") or {}
            for item in page.get("value") or []:
                if isinstance(item, dict) and str(item.get("name", "")).lower() == name.lower():
                    return _resource(item)
            url = page.get("nextLink")
        return None
