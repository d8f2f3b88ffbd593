"""The Microsoft Entra ID emulator: discovery documents, signing keys and the v2 token endpoint.

Serves what MSAL and azure-identity call (OIDC discovery, JWKS, instance discovery) and
``POST /{tenant}/oauth2/v2.0/token`` for ``client_credentials`` with either a client secret or a
federated client assertion (a Kubernetes service-account token). A federated assertion is checked
the way Entra checks a user-assigned identity's federated identity credentials (FICs), including
fetching the issuer's discovery document and JWKS over HTTPS, so a broken issuer, a wrong key or a
stale token fails here with the AADSTS code the real service sends.

One module per concern: ``aadsts`` (the codes and :class:`EntraError`), ``replies`` (error
bodies and reply headers), ``directory`` (tenants and principals), ``discovery``, ``token`` (the
token endpoint, with ``form``), ``federation`` (the federated assertion's checks, with
``assertion`` and ``propagation``), ``router``.
"""

from .replies import fault_response
from .router import build_router

__all__ = ["build_router", "fault_response"]
