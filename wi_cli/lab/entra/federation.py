"""Client credentials with a federated assertion: the checks Entra makes, in its order, on a
token from an external issuer (a Kubernetes service-account token) against the identity's
federated identity credentials, including fetching the issuer's discovery document and JWKS over
HTTPS, so a broken issuer, a wrong key or a stale token fails with the code Entra sends."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt

from ..azure_state import FederatedCredential, ServicePrincipal, UserAssignedIdentity
from .aadsts import EntraError
from .assertion import Assertion, check_lifetime, check_time_range, matching_fics, parse_assertion
from .directory import principal
from .form import required
from .propagation import check_propagated

if TYPE_CHECKING:
    from ..runtime import Lab

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_FETCH_TIMEOUT_SECONDS = 3.0
MAX_ISSUER_KEYS = 100  # Entra keeps only the first 100 keys of an issuer's JWKS
# hosts whose tokens are Entra's own; they may not be used as federated assertions
ENTRA_ISSUER_HOSTS = frozenset({
    "sts.windows.net", "login.microsoftonline.com", "login.windows.net", "login.microsoft.com",
    "sts.chinacloudapi.cn", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
    "login.microsoftonline.us",
})


class FederatedAssertions:
    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        https = urllib.request.HTTPSHandler(context=lab.ca.client_context())
        # the issuer fetch must not go through any proxy the environment names
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), https)

    def authenticate(self, form: dict[str, str], tid: str, client_id: str) -> ServicePrincipal:
        assertion_type = required(form, "client_assertion_type")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise EntraError(7000219)
        assertion = parse_assertion(form["client_assertion"])
        sp = principal(self.lab, tid, client_id)
        identity, fics = self._fics_of(sp)
        if identity is None or not fics:
            raise EntraError(70025, client_id=client_id, display_name=sp.display_name)
        if self._is_entra_issued(assertion.iss):
            raise EntraError(700222)
        # the lifetime is checked before any FIC matching: a 365-day token got 70023
        # (Azure/azure-sdk-for-python#32124; MicrosoftDocs/azure-docs#86916)
        check_lifetime(assertion.claims)
        matching = matching_fics(fics, assertion)
        check_propagated(self.lab.azure, sp, identity, fics, matching, assertion)
        # matching comes before the issuer's documents are fetched: an in-cluster issuer gets a
        # matching code, not 50166 (Azure/azure-workload-identity#616)
        self._verify_signature(assertion)
        check_time_range(assertion.claims)
        return sp

    def _fics_of(self, sp: ServicePrincipal
                 ) -> tuple[UserAssignedIdentity | None, list[FederatedCredential]]:
        """The identity behind ``sp`` and its FICs (apps in the lab have none)."""
        if not sp.identity_resource_id:
            return None, []
        with self.lab.azure.lock:
            identity = self.lab.azure.identities.get(sp.identity_resource_id.lower())
            return identity, list(identity.fics.values()) if identity else []

    def _is_entra_issued(self, iss: str) -> bool:
        host = (urlsplit(iss).hostname or "").lower()
        return host in ENTRA_ISSUER_HOSTS or iss.startswith(self.lab.entra.url + "/")

    def _verify_signature(self, assertion: Assertion) -> None:
        keys = self._issuer_keys(assertion.iss)
        alg = assertion.header.get("alg")
        if alg != "RS256":
            raise EntraError(700027, reason=f"The signing algorithm '{alg}' is not supported; "
                                            "only RS256 is.")
        kid = assertion.header.get("kid")
        jwk = next((k for k in keys if isinstance(k, dict) and k.get("kid") == kid), None)
        if jwk is None:
            raise EntraError(7000272, kid=kid if isinstance(kid, str) else "", iss=assertion.iss)
        try:
            public_key = jwt.PyJWK(jwk, algorithm="RS256").key
            jwt.decode(assertion.token, public_key, algorithms=["RS256"],
                       options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                "verify_iat": False, "verify_iss": False})
        except jwt.PyJWTError:
            raise EntraError(700027, reason="The provided signature value did not match the "
                                            "expected signature value.") from None

    def _issuer_keys(self, iss: str) -> list[Any]:
        """The issuer's JWKS keys, fetched fresh (discovery, then jwks_uri), or EntraError 50166."""
        discovery = self._fetch_json(iss.rstrip("/") + "/.well-known/openid-configuration")
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str):
            raise EntraError(50166)
        jwks = self._fetch_json(jwks_uri)
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list):
            raise EntraError(50166)
        return keys[:MAX_ISSUER_KEYS]

    def _fetch_json(self, url: str) -> Any:
        if urlsplit(url).scheme != "https":
            raise EntraError(50166)
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=OIDC_FETCH_TIMEOUT_SECONDS) as reply:
                if reply.status != 200:
                    raise EntraError(50166)
                return json.loads(reply.read())
        except (urllib.error.URLError, OSError, ValueError, ssl.SSLError):
            raise EntraError(50166) from None
