"""The presented federated assertion (a JWT from an external issuer) and the checks on it that
need nothing but its claims and the identity's FICs: shape, lifetime, FIC matching, time range."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import jwt

from ..azure_state import FederatedCredential
from .aadsts import EntraError

CLOCK_SKEW_SECONDS = 300
# "must have a lifetime of less than or equal to 1.01:00:00" (1 day + 1 hour)
MAX_ASSERTION_LIFETIME_SECONDS = 25 * 3600


def _assertion_time(epoch: float) -> str:
    """Like .NET's round-trip format: 2024-10-02T22:05:03.6755165Z."""
    moment = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _numeric_claim(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class Assertion:
    token: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def iss(self) -> str:
        return self.claims["iss"]

    @property
    def sub(self) -> str:
        return self.claims["sub"]

    @property
    def audiences(self) -> list[str]:
        aud = self.claims.get("aud")
        if isinstance(aud, str):
            return [aud]
        return [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []

    @property
    def aud_text(self) -> str:
        return ",".join(self.audiences)


def parse_assertion(token: str) -> Assertion:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise EntraError(50027) from None
    if not isinstance(claims.get("iss"), str) or not isinstance(claims.get("sub"), str):
        raise EntraError(50027)
    return Assertion(token, header, claims)


def matching_fics(fics: list[FederatedCredential],
                  assertion: Assertion) -> list[FederatedCredential]:
    """FICs matching issuer, then subject, then audience (all exact, case-sensitive; a subject
    matching only case-insensitively is 7002138 since the 2024/25 change, Azure/login#515)."""
    by_issuer = [f for f in fics if f.issuer == assertion.iss]
    if not by_issuer:
        raise EntraError(700211, iss=assertion.iss)
    by_subject = [f for f in by_issuer if f.subject == assertion.sub]
    if not by_subject:
        if any(f.subject.lower() == assertion.sub.lower() for f in by_issuer):
            raise EntraError(7002138, sub=assertion.sub)
        raise EntraError(700213, sub=assertion.sub)
    presented = set(assertion.audiences)
    by_audience = [f for f in by_subject if presented.intersection(f.audiences)]
    if not by_audience:
        raise EntraError(700212, aud=assertion.aud_text)
    return by_audience


def check_time_range(claims: dict[str, Any]) -> None:
    """nbf/exp with Entra's clock skew; a missing nbf counts as the epoch, a missing exp too."""
    now = time.time()
    nbf = _numeric_claim(claims, "nbf") or 0.0
    exp = _numeric_claim(claims, "exp") or 0.0
    if now + CLOCK_SKEW_SECONDS < nbf or now - CLOCK_SKEW_SECONDS >= exp:
        raise EntraError(700024, now=_assertion_time(now), nbf=_assertion_time(nbf),
                         exp=_assertion_time(exp))


def check_lifetime(claims: dict[str, Any]) -> None:
    exp = _numeric_claim(claims, "exp")
    issued = _numeric_claim(claims, "iat") or _numeric_claim(claims, "nbf")
    if exp is not None and issued is not None and exp - issued > MAX_ASSERTION_LIFETIME_SECONDS:
        raise EntraError(70023, iat=int(issued), exp=int(exp))
