"""User-assigned identities and their federated credentials, read and written through azure-mgmt-msi
and returned as the domain's values; SDK errors leave as WiErrors."""

from __future__ import annotations

import builtins
import datetime as dt
import time
from typing import Any, Callable, TypeVar

from ...core.errors import AzureNotFound
from ...core.models import FederatedCredential, Identity, PermissionBlock, ResourceId
from .clients import AzureClients
from .errors import AzureConflict, azure_errors

T = TypeVar("T")


MSI_API = "2024-11-30"  # azure-mgmt-msi 7.x's default; the lab and ARM serve it


def arm_time(value: Any) -> dt.datetime | None:
    """An ARM timestamp ("2024-05-01T10:00:00.1234567Z") as a datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # at most 6 fractional digits for fromisoformat
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def identity_from_json(item: dict[str, Any]) -> Identity:
    props = item.get("properties") or {}
    system = item.get("systemData") or {}
    return Identity(ResourceId.parse(str(item.get("id") or "")), props.get("clientId") or "",
                    props.get("principalId") or "", props.get("tenantId") or "",
                    item.get("location") or "", arm_time(system.get("createdAt")))


def credential_from_json(item: dict[str, Any]) -> FederatedCredential:
    props = item.get("properties") or {}
    system = item.get("systemData") or {}
    return FederatedCredential(str(item.get("name") or ""), props.get("issuer") or "",
                               props.get("subject") or "", tuple(props.get("audiences") or ()),
                               arm_time(system.get("createdAt")),
                               arm_time(system.get("lastModifiedAt")))


def to_identity(model: Any) -> Identity:
    system = getattr(model, "system_data", None)
    return Identity(ResourceId.parse(model.id), model.client_id or "", model.principal_id or "",
                    model.tenant_id or "", model.location or "",
                    getattr(system, "created_at", None))


def to_credential(model: Any) -> FederatedCredential:
    system = getattr(model, "system_data", None)
    return FederatedCredential(model.name, model.issuer or "", model.subject or "",
                               tuple(model.audiences or ()),
                               getattr(system, "created_at", None),
                               getattr(system, "last_modified_at", None))


def retry_conflicts(fn: Callable[[], T], doing: str, attempts: int = 6, delay: float = 0.3) -> T:
    """ARM refuses concurrent credential writes to one identity with 409
    (ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity): wait and retry."""
    for attempt in range(attempts):
        try:
            with azure_errors(doing):
                return fn()
        except AzureConflict:
            if attempt == attempts - 1:
                raise
            time.sleep(delay * (2 ** attempt))
    raise AssertionError("unreachable")


class Identities:
    """The identities port: lookups use the subscription of the id they are given."""

    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients

    def _msi(self, subscription: str) -> Any:
        return self.clients.for_subscription(subscription).msi

    def get(self, rid: ResourceId) -> Identity | None:
        try:
            with azure_errors(f"reading managed identity {rid.name}"):
                return to_identity(self._msi(rid.subscription).user_assigned_identities.get(
                    rid.resource_group, rid.name))
        except AzureNotFound:
            return None

    def list(self, subscription: str) -> list[Identity]:
        url = (f"/subscriptions/{subscription}/providers/Microsoft.ManagedIdentity/"
               f"userAssignedIdentities?api-version={MSI_API}")
        with azure_errors(f"listing the user-assigned identities of subscription {subscription}"):
            return [identity_from_json(i) for i in self.clients.list_json(url)]

    def credentials(self, identity: Identity) -> builtins.list[FederatedCredential]:
        url = f"{identity.id}/federatedIdentityCredentials?api-version={MSI_API}"
        with azure_errors(f"listing the federated credentials of {identity.name}"):
            return [credential_from_json(c) for c in self.clients.list_json(url)]

    def put_credential(self, identity: Identity, credential: FederatedCredential) -> None:
        from azure.mgmt.msi.models import FederatedIdentityCredential

        api = self._msi(identity.subscription).federated_identity_credentials
        body = FederatedIdentityCredential(issuer=credential.issuer, subject=credential.subject,
                                           audiences=list(credential.audiences))
        retry_conflicts(lambda: api.create_or_update(identity.resource_group, identity.name,
                                                     credential.name, body),
                        f"writing federated credential {credential.name} on {identity.name}")

    def delete_credential(self, identity: Identity, name: str) -> None:
        api = self._msi(identity.subscription).federated_identity_credentials
        retry_conflicts(lambda: api.delete(identity.resource_group, identity.name, name),
                        f"deleting federated credential {name} of {identity.name}")

    def permissions(self, identity: Identity) -> builtins.list[PermissionBlock] | None:
        """The operator's permission blocks on the identity (ARM's permissions API), or None
        when ARM will not say."""
        from ...core.errors import AzureForbidden

        from .preflight import permissions_at

        try:  # the documented path, {resource id}/providers/Microsoft.Authorization/permissions
            return permissions_at(self.clients.for_subscription(identity.subscription),
                                  str(identity.id))
        except AzureForbidden:
            return None
