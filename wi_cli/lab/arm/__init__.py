"""The Azure Resource Manager emulator: AKS, managed identities + FICs, RBAC, subscriptions.

Every call goes through the same front door as real ARM: bearer token (audience, expiry,
tenant of the subscription), ``api-version`` per resource type, then RBAC on the action the
method and resource type imply (reads too), then the resource provider's own validation.
Errors use ARM's envelope ``{"error": {"code", "message"}}``; lists page with an absolute
``nextLink`` carrying ``$skiptoken``.

One module per concern: ``frontdoor`` (envelope, api-versions, authentication, RBAC checks),
``paging`` (lists), ``router`` (which provider serves which URL), ``metadata`` (the cloud's
endpoints document), and one per resource provider: ``subscriptions``, ``providers`` (resource
providers and locations), ``authorization`` (with ``role_filters``), ``clusters``,
``identities``, ``federated_credentials``, ``vaults_storage``.
"""

from .router import build_router

__all__ = ["build_router"]
