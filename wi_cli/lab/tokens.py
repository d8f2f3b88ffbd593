"""Entra access tokens: minted by the lab's Entra, verified by ARM and the data-plane services."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import jwt

from .azure_state import ServicePrincipal

if TYPE_CHECKING:
    from .runtime import Lab

ACCESS_TOKEN_LIFETIME = 3599


class TokenError(Exception):
    """Why a bearer token was refused, as the ARM error code and message to send back."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sts_issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


def mint_access_token(lab: "Lab", sp: ServicePrincipal, resource: str,
                      lifetime: int = ACCESS_TOKEN_LIFETIME) -> str:
    """A v1 app-only access token for ``resource`` (the audience), as Entra issues to an app/MI."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": resource,
        "iss": sts_issuer(sp.tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "aio": uuid.uuid4().hex,
        "appid": sp.client_id,
        "appidacr": "2" if sp.identity_resource_id else "1",
        "idp": sts_issuer(sp.tenant_id),
        "idtyp": "app",
        "oid": sp.object_id,
        "rh": uuid.uuid4().hex,
        "sub": sp.object_id,
        "tid": sp.tenant_id,
        "uti": uuid.uuid4().hex[:22],
        "ver": "1.0",
    }
    if sp.identity_resource_id:
        # Entra lower-cases "resourcegroups" in xms_mirid
        claims["xms_mirid"] = sp.identity_resource_id.replace("/resourceGroups/", "/resourcegroups/")
    return lab.entra_key.sign(claims)


def _same_audience(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def verify_access_token(lab: "Lab", token: str | None, audiences: list[str]) -> dict[str, Any]:
    """The token's claims, or TokenError with ARM's 401 code and message."""
    if not token:
        raise TokenError("AuthenticationFailed",
                         "Authentication failed. The 'Authorization' header is missing.")
    try:
        claims = lab.entra_key.verify(token)
    except jwt.PyJWTError:
        raise TokenError("InvalidAuthenticationToken",
                         "The access token is invalid.") from None
    now = time.time()
    if claims.get("exp", 0) < now:
        exp = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(claims.get("exp", 0)))
        cur = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(now))
        raise TokenError("ExpiredAuthenticationToken",
                         f"The access token expiry UTC time '{exp}' is earlier than current UTC "
                         f"time '{cur}'.")
    aud = claims.get("aud", "")
    if not any(_same_audience(aud, a) for a in audiences):
        allowed = ",".join(f"'{a}'" for a in audiences)
        raise TokenError("InvalidAuthenticationTokenAudience",
                         f"The access token has been obtained for wrong audience or resource "
                         f"'{aud}'. It should exactly match with one of the allowed audiences "
                         f"{allowed}.")
    return claims
