"""User-assigned identities and their federated credentials, read and written through azure-mgmt-msi
and returned as the domain's values; SDK errors leave as WiErrors."""

from __future__ import annotations

import time
from typing import Any, Callable, TypeVar

from ...core.errors import AzureNotFound
from ...core.models import FederatedCredential, Identity, PermissionBlock, ResourceId
from .clients import AzureClients
from .errors import AzureConflict, azure_errors

T = TypeVar("T")


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
        with azure_errors(f"listing the user-assigned identities of subscription {subscription}"):
            return [to_identity(m) for m in
                    self._msi(subscription).user_assigned_identities.list_by_subscription()]

    def credentials(self, identity: Identity) -> list[FederatedCredential]:
        api = self._msi(identity.subscription).federated_identity_credentials
        with azure_errors(f"listing the federated credentials of {identity.name}"):
            return [to_credential(m) for m in api.list(identity.resource_group, identity.name)]

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

    def permissions(self, identity: Identity) -> list[PermissionBlock] | None:
        """The operator's permission blocks on the identity (ARM's permissions API), or None
        when ARM will not say."""
        from ...core.errors import AzureForbidden

        client = self.clients.for_subscription(identity.subscription).authorization
        try:
            with azure_errors(f"reading the operator's permissions on {identity.name}"):
                return [permission_block(p) for p in client.permissions.list_for_resource(
                    identity.resource_group, identity.id.provider, "", identity.id.type,
                    identity.name)]
        except AzureForbidden:
            return None


def permission_block(model: Any) -> PermissionBlock:
    return PermissionBlock(tuple(model.actions or ()), tuple(model.not_actions or ()))
