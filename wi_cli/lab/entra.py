"""The Microsoft Entra ID emulator: discovery documents, signing keys and the v2 token endpoint.

Serves what MSAL and azure-identity call (OIDC discovery, JWKS, instance discovery) and
``POST /{tenant}/oauth2/v2.0/token`` for ``client_credentials`` with either a client secret or a
federated client assertion (a Kubernetes service-account token). A federated assertion is checked
the way Entra checks a user-assigned identity's federated identity credentials (FICs), including
fetching the issuer's discovery document and JWKS over HTTPS, so a broken issuer, a wrong key or a
stale token fails here with the AADSTS code the real service sends.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import re
import ssl
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import jwt

from .azure_state import FederatedCredential, ServicePrincipal, UserAssignedIdentity
from .http import Request, Response, Router, json_response
from .tokens import ACCESS_TOKEN_LIFETIME, mint_access_token

if TYPE_CHECKING:
    from .runtime import Lab

_TENANT_SHAPE = re.compile(r"^[A-Za-z0-9.-]+$")  # a GUID or a DNS name
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_SECONDS = 300
# "must have a lifetime of less than or equal to 1.01:00:00" (1 day + 1 hour)
MAX_ASSERTION_LIFETIME_SECONDS = 25 * 3600
OIDC_FETCH_TIMEOUT_SECONDS = 3.0
MAX_ISSUER_KEYS = 100  # Entra keeps only the first 100 keys of an issuer's JWKS
MULTI_TENANT_ALIASES = frozenset({"common", "organizations", "consumers"})
# hosts whose tokens are Entra's own; they may not be used as federated assertions
ENTRA_ISSUER_HOSTS = frozenset({
    "sts.windows.net", "login.microsoftonline.com", "login.windows.net", "login.microsoft.com",
    "sts.chinacloudapi.cn", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
    "login.microsoftonline.us",
})
# token audiences (resources) the lab's tenants know besides the lab's own ARM audience
WELL_KNOWN_RESOURCES = (
    "https://management.core.windows.net/",
    "https://management.azure.com/",
    "https://vault.azure.net",
    "https://storage.azure.com",
    # the lab cloud's microsoftGraphResourceId (arm/metadata.py): the azurerm Terraform
    # provider gets a token for it to read the caller's claims (object id) before planning
    "https://graph.microsoft.lab.local/",
)
_FIC_DOC_SUFFIX = (" Please check your federated identity credential Subject, Audience and Issuer "
                   "against the presented assertion. "
                   "https://learn.microsoft.com/entra/workload-id/workload-identity-federation")


@dataclass(frozen=True)
class Aadsts:
    status: int
    error: str
    template: str  # str.format template of the text after "AADSTS{code}: "


# code -> HTTP status, OAuth "error", description template. Sources: NOTES.md §7 and
# synthesized/entra-token-responses.json; codes not there are marked with the reason chosen.
AADSTS: dict[int, Aadsts] = {
    # tenant and request shape
    # 90002's full text as observed (Azure/azure-cli#22145; james-gould/azure-keyvault-emulator#324)
    90002: Aadsts(400, "invalid_request",
                  "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                  "and are signing into the correct cloud. Check with your subscription "
                  "administrator, this may happen if there are no active subscriptions for the "
                  "tenant."),
    # the code is observed (microsoft/ARI#247); the wording is unverified
    900023: Aadsts(400, "invalid_request",
                   "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a "
                   "valid external domain."),
    9001023: Aadsts(400, "invalid_request",  # client credentials over /common etc.
                    "The grant type is not supported over the /common or /consumers endpoints. "
                    "Please use the /organizations or tenant-specific endpoint."),
    900144: Aadsts(400, "invalid_request",
                   "The request body must contain the following parameter: '{name}'."),
    70003: Aadsts(400, "unsupported_grant_type",
                  "The app requested an unsupported grant type '{grant_type}'."),
    7000218: Aadsts(401, "invalid_client",
                    "The request body must contain the following parameter: 'client_assertion' "
                    "or 'client_secret'."),
    7000219: Aadsts(400, "invalid_request", "'client_assertion_type' is missing or invalid."),
    70011: Aadsts(400, "invalid_scope",  # several resources (Azure/azure-sdk-for-net#9076)
                  "The provided value for the input parameter 'scope' isn't valid. "
                  "The scope {scope} isn't valid."),
    # one scope without "/.default": MicrosoftDocs/azure-docs#99862 (status/error unverified)
    1002012: Aadsts(400, "invalid_scope",
                    "The provided value for scope {scope} is not valid. Client credential flows "
                    "must have a scope value with /.default suffixed to the resource identifier "
                    "(application ID URI)."),
    500011: Aadsts(400, "invalid_resource",
                   "The resource principal named {resource} was not found in the tenant named "
                   "{tenant}. This can happen if the application has not been installed by the "
                   "administrator of the tenant or consented to by any user in the tenant. You "
                   "might have sent your authentication request to the wrong tenant."),
    # the client
    700016: Aadsts(400, "unauthorized_client",
                   "Application with identifier '{client_id}' was not found in the directory "
                   "'{tenant}'. This can happen if the application has not been installed by the "
                   "administrator of the tenant or consented to by any user in the tenant. You may "
                   "have sent your authentication request to the wrong tenant."),
    7000215: Aadsts(401, "invalid_client",
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    "app '{client_id}'."),
    # the federated assertion, in the order they are checked
    50027: Aadsts(400, "invalid_request", "JWT token is invalid or malformed."),
    70025: Aadsts(401, "invalid_client",  # status unverified; Entra sends invalid_client as 401
                  "The client '{client_id}'({display_name}) has no configured federated identity "
                  "credentials."),
    700222: Aadsts(401, "invalid_client",
                   "AAD-issued tokens may not be used for federated identity flows."),
    70023: Aadsts(401, "invalid_client",  # observed 2023 as invalid_client (2022: invalid_request)
                  "External OIDC Provider token must have a lifetime of less than or equal to "
                  "1.01:00:00. Token issued at {iat}. Token expires on {exp}."),
    700211: Aadsts(401, "invalid_client",
                   "No matching federated identity record found for presented assertion issuer "
                   "'{iss}'." + _FIC_DOC_SUFFIX),
    700213: Aadsts(401, "invalid_client",
                   "No matching federated identity record found for presented assertion subject "
                   "'{sub}'." + _FIC_DOC_SUFFIX),
    700212: Aadsts(401, "invalid_client",
                   "No matching federated identity record found for presented assertion audience "
                   "'{aud}'." + _FIC_DOC_SUFFIX),
    # a subject that matches a FIC only case-insensitively: Azure/login#515, #517
    7002138: Aadsts(401, "invalid_client",
                    "No matching federated identity record found for presented assertion subject "
                    "'{sub}'. The subject matches with case-insensitive comparison, but not with "
                    "case-sensitive comparison."),
    50166: Aadsts(400, "invalid_request", "Request to External OIDC endpoint failed."),
    # the token's kid is not in the issuer's JWKS: Azure/azure-workload-identity#1232, #616
    7000272: Aadsts(401, "invalid_client",
                    "The certificate with identifier {kid} used to sign the federated credential "
                    "could not be found in the metadata of identity provider {iss}. Please "
                    "validate that your Identity Provider's metadata exposes the key used to sign "
                    "the incoming token."),
    # a bad signature or algorithm; what Entra says for a federated assertion is unverified
    # (700027 is observed for certificate assertions: Azure/azure-sdk-for-net#29007)
    700027: Aadsts(401, "invalid_client",
                   "Client assertion failed signature validation. [Reason - {reason}]"),
    700024: Aadsts(401, "invalid_client",
                   "Client assertion is not within its valid time range. Current time: {now}, "
                   "assertion valid from {nbf}, expiry time of assertion {exp}. Review the "
                   "documentation at https://docs.microsoft.com/azure/active-directory/develop/"
                   "active-directory-certificate-credentials ."),
    # the legacy combined code; the Entra doc names it for a credential still propagating
    # (entra-docs workload-identity-federation-considerations.md)
    70021: Aadsts(401, "unauthorized_client",
                  "No matching federated identity record found for presented assertion. "
                  "Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: "
                  "'{aud}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/"
                  "workload-identity-federation"),
    # instance discovery
    50049: Aadsts(400, "invalid_instance", "Unknown or invalid instance."),
}


class EntraError(Exception):
    """One AADSTS answer: the code from :data:`AADSTS` and the values for its template."""

    def __init__(self, code: int, *, error: str | None = None, **fields: Any) -> None:
        self.code = code
        self.entry = AADSTS[code]
        self.error = error or self.entry.error
        self.description = f"AADSTS{code}: " + self.entry.template.format(**fields)
        super().__init__(self.description)


# -- time formats Entra uses ------------------------------------------------------------------
def _body_timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _assertion_time(epoch: float) -> str:
    """Like .NET's round-trip format: 2024-10-02T22:05:03.6755165Z."""
    moment = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _numeric_claim(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class _Assertion:
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


def _parse_assertion(token: str) -> _Assertion:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise EntraError(50027) from None
    if not isinstance(claims.get("iss"), str) or not isinstance(claims.get("sub"), str):
        raise EntraError(50027)
    return _Assertion(token, header, claims)


class EntraService:
    """Request handlers; reads URLs, keys and the Azure state from the lab at request time."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        https = urllib.request.HTTPSHandler(context=lab.ca.client_context())
        # the issuer fetch must not go through any proxy the environment names
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), https)

    @property
    def base(self) -> str:
        return self.lab.entra.url

    # -- routing ------------------------------------------------------------------------------
    def router(self) -> Router:
        r = Router(ignore_case=True)
        r.add("GET", r"/common/discovery/instance", self.instance_discovery)
        r.add("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration",
              self.openid_configuration)
        r.add("GET", r"/(?P<tenant>[^/]+)/\.well-known/openid-configuration",
              self.openid_configuration_v1)
        r.add("GET", r"/(?P<tenant>[^/]+)/discovery/v2\.0/keys", self.keys)
        r.add("GET", r"/(?P<tenant>[^/]+)/discovery/keys", self.keys)
        r.add("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", self.token)
        r.add("GET", r"/error", self.error_page)
        return r

    # -- error bodies -------------------------------------------------------------------------
    def error_response(self, err: EntraError, req: Request) -> Response:
        trace_id = str(uuid.uuid4())
        correlation_id = _correlation_id(req)
        stamp = _body_timestamp(dt.datetime.now(dt.timezone.utc))
        body = {
            "error": err.error,
            "error_description": (f"{err.description}\r\nTrace ID: {trace_id}\r\n"
                                  f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"),
            "error_codes": [err.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{self.base}/error?code={err.code}",
        }
        return json_response(err.entry.status, body, _reply_headers(req, trace_id))

    def error_page(self, req: Request) -> Response:
        code = re.sub(r"\D", "", req.arg_ci("code", "") or "")
        page = f"<html><body><h1>Error AADSTS{code}</h1></body></html>".encode()
        return Response(200, page, {"Content-Type": "text/html; charset=utf-8"})

    # -- tenants ------------------------------------------------------------------------------
    def tenant_id(self, tenant: str) -> str:
        """The tenant's GUID from its GUID or one of its verified domains ("in GUID or
        domain-name format": entra-docs v2-oauth2-client-creds-grant-flow); EntraError 90002 for
        an unknown tenant, 900023 for something that is neither."""
        tid = tenant.lower()
        if not _TENANT_SHAPE.match(tenant):
            raise EntraError(900023, tenant=tenant)
        with self.lab.azure.lock:
            if tid in self.lab.azure.tenants:
                return tid
            if tid in self.lab.azure.tenant_domains:
                return self.lab.azure.tenant_domains[tid]
        raise EntraError(90002, tenant=tenant)

    def _discovery_tenant(self, req: Request) -> tuple[str, str] | Response:
        """(path segment for endpoints, tenant id for the issuer) or a 400 invalid_tenant."""
        tenant = req.params["tenant"]
        if tenant.lower() in MULTI_TENANT_ALIASES:
            return tenant.lower(), "{tenantid}"
        try:
            tid = self.tenant_id(tenant)
        except EntraError as exc:
            return self.error_response(EntraError(exc.code, error="invalid_tenant",
                                                  tenant=tenant), req)
        return tid, tid

    # -- discovery ----------------------------------------------------------------------------
    def openid_configuration(self, req: Request) -> Response:
        found = self._discovery_tenant(req)
        if isinstance(found, Response):
            return found
        segment, tid = found
        endpoints = f"{self.base}/{segment}/oauth2/v2.0"
        return json_response(200, {
            "token_endpoint": f"{endpoints}/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{self.base}/{segment}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.base}/{tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{endpoints}/authorize",
            "device_authorization_endpoint": f"{endpoints}/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{endpoints}/logout",
            "claims_supported": [
                "sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": f"{self.base}/{segment}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        })

    def openid_configuration_v1(self, req: Request) -> Response:
        found = self._discovery_tenant(req)
        if isinstance(found, Response):
            return found
        segment, tid = found
        endpoints = f"{self.base}/{segment}/oauth2"
        return json_response(200, {
            "token_endpoint": f"{endpoints}/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{self.base}/{segment}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token",
                                         "token"],
            "scopes_supported": ["openid"],
            "issuer": f"https://sts.windows.net/{tid}/",
            "microsoft_multi_refresh_token": True,
            "authorization_endpoint": f"{endpoints}/authorize",
            "device_authorization_endpoint": f"{endpoints}/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{endpoints}/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                                 "auth_time", "acr", "amr", "nonce", "email", "given_name",
                                 "family_name", "nickname"],
            "check_session_iframe": f"{endpoints}/checksession",
            "userinfo_endpoint": f"{endpoints}/userinfo",
            "kerberos_endpoint": f"{self.base}/{segment}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        })

    def keys(self, req: Request) -> Response:
        found = self._discovery_tenant(req)
        if isinstance(found, Response):
            return found
        _, tid = found
        v2 = "/v2.0/" in req.path.lower()
        key = dict(self.lab.entra_key.jwk())
        key.pop("alg", None)  # Entra's JWKS entries carry no "alg"
        key["x5t"] = key["kid"]
        key["cloud_instance_name"] = "microsoftonline.com"
        if v2:
            key["issuer"] = f"{self.base}/{tid}/v2.0"
        return json_response(200, {"keys": [key]})

    def instance_discovery(self, req: Request) -> Response:
        """MSAL's authority check: known hosts get metadata, others 400 invalid_instance."""
        host = urlsplit(self.base).netloc
        auth_endpoint = req.arg_ci("authorization_endpoint")
        tenant, version = "common", "v2.0/"
        if auth_endpoint:
            parts = urlsplit(auth_endpoint)
            if parts.netloc.lower() != host:
                return self.error_response(EntraError(50049), req)
            segments = [s for s in parts.path.split("/") if s]
            tenant = segments[0] if segments else "common"
            version = "v2.0/" if "/oauth2/v2.0/" in parts.path.lower() else ""
        return json_response(200, {
            "tenant_discovery_endpoint":
                f"{self.base}/{tenant}/{version}.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        })

    # -- the token endpoint -------------------------------------------------------------------
    def token(self, req: Request) -> Response:
        try:
            sp, resource = self._client_credentials(req)
        except EntraError as err:
            return self.error_response(err, req)
        body = {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": mint_access_token(self.lab, sp, resource),
        }
        return json_response(200, body, _reply_headers(req, str(uuid.uuid4())))

    def _client_credentials(self, req: Request) -> tuple[ServicePrincipal, str]:
        tenant = req.params["tenant"]
        if tenant.lower() in MULTI_TENANT_ALIASES:
            raise EntraError(9001023)
        tid = self.tenant_id(tenant)
        form = _form(req)
        grant_type = _required(form, "grant_type")
        if grant_type != "client_credentials":
            raise EntraError(70003, grant_type=grant_type)
        client_id = _required(form, "client_id")
        resource = self._resource_from_scope(_required(form, "scope"), tenant)
        if form.get("client_assertion"):
            return self._authenticate_assertion(form, tid, client_id), resource
        if form.get("client_secret"):
            return self._authenticate_secret(tid, client_id, form["client_secret"]), resource
        raise EntraError(7000218)

    def _resource_from_scope(self, scope: str, tenant: str) -> str:
        """The one resource of a ``{resource}/.default`` scope (everything before "/.default")."""
        scopes = scope.split()
        if len(scopes) == 1 and not scopes[0].endswith("/.default"):
            raise EntraError(1002012, scope=scope)
        if len(scopes) != 1 or scopes[0] == "/.default":
            raise EntraError(70011, scope=scope)
        resource = scopes[0][: -len("/.default")]
        if _normal_resource(resource) not in self._known_resources():
            raise EntraError(500011, resource=resource, tenant=tenant)
        return resource

    def _known_resources(self) -> set[str]:
        return {_normal_resource(r) for r in (self.lab.arm_audience, *WELL_KNOWN_RESOURCES)}

    def _principal(self, tid: str, client_id: str) -> ServicePrincipal:
        sp = self.lab.azure.principal_by_client_id(client_id)
        if sp is None or sp.tenant_id.lower() != tid:
            raise EntraError(700016, client_id=client_id, tenant=tid)
        return sp

    def _authenticate_secret(self, tid: str, client_id: str, secret: str) -> ServicePrincipal:
        sp = self._principal(tid, client_id)
        if not sp.secret or not hmac.compare_digest(sp.secret.encode(), secret.encode()):
            raise EntraError(7000215, client_id=client_id)
        return sp

    # -- federated assertions -----------------------------------------------------------------
    def _authenticate_assertion(self, form: dict[str, str], tid: str,
                                client_id: str) -> ServicePrincipal:
        assertion_type = _required(form, "client_assertion_type")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise EntraError(7000219)
        assertion = _parse_assertion(form["client_assertion"])
        sp = self._principal(tid, client_id)
        identity, fics = self._fics_of(sp)
        if identity is None or not fics:
            raise EntraError(70025, client_id=client_id, display_name=sp.display_name)
        if self._is_entra_issued(assertion.iss):
            raise EntraError(700222)
        # the lifetime is checked before any FIC matching: a 365-day token got 70023
        # (Azure/azure-sdk-for-python#32124; MicrosoftDocs/azure-docs#86916)
        _check_lifetime(assertion.claims)
        matching = _matching_fics(fics, assertion)
        self._check_propagated(sp, identity, fics, matching, assertion)
        # matching comes before the issuer's documents are fetched: an in-cluster issuer gets a
        # matching code, not 50166 (Azure/azure-workload-identity#616)
        self._verify_signature(assertion)
        _check_time_range(assertion.claims)
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
        return host in ENTRA_ISSUER_HOSTS or iss.startswith(self.base + "/")

    def _verify_signature(self, assertion: _Assertion) -> None:
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

    def _check_propagated(self, sp: ServicePrincipal, identity: UserAssignedIdentity,
                          fics: list[FederatedCredential], matching: list[FederatedCredential],
                          assertion: _Assertion) -> None:
        """Entra is eventually consistent: a FIC created or changed a moment ago may not be seen
        yet, less and less often over several minutes (entra-docs
        workload-identity-federation-considerations.md). Entra then answers what it answers
        without that FIC: 70025, 700211 or 700213 (kedacore/keda#8152,
        Azure/azure-workload-identity#1200)."""
        az = self.lab.azure
        unseen, forced = [], None
        for fic in matching:
            refused, code = az.take_refusal(identity, fic)
            if refused or self._still_propagating(fic):
                unseen.append(fic)
                forced = forced or code
        if not matching or len(unseen) < len(matching):
            return
        if forced == 70021:
            raise EntraError(70021, iss=assertion.iss, sub=assertion.sub, aud=assertion.aud_text)
        if forced == 700016:  # an identity not replicated yet (openshift/openshift-azure#2211)
            raise EntraError(700016, client_id=sp.client_id, tenant=sp.tenant_id)
        seen = [f for f in fics if all(f is not u for u in unseen)]
        if not seen:
            raise EntraError(70025, client_id=sp.client_id, display_name=sp.display_name)
        _matching_fics(seen, assertion)  # raises: the only match is the one not seen

    def _still_propagating(self, fic: FederatedCredential) -> bool:
        az = self.lab.azure
        window = float(az.fic_propagation_seconds)
        if window <= 0:
            return False
        with az.lock:
            draw = az.propagation_rng.random()
        return draw < refusal_probability(time.time() - fic.created_at, window)


def refusal_probability(age: float, window: float) -> float:
    """How likely Entra does not see a FIC ``age`` seconds old yet: certain at first, then
    thinning out linearly to never at the end of the window."""
    if window <= 0 or age >= window:
        return 0.0
    return 1.0 - max(age, 0.0) / window


def _matching_fics(fics: list[FederatedCredential],
                   assertion: _Assertion) -> list[FederatedCredential]:
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


def _check_time_range(claims: dict[str, Any]) -> None:
    """nbf/exp with Entra's clock skew; a missing nbf counts as the epoch, a missing exp too."""
    now = time.time()
    nbf = _numeric_claim(claims, "nbf") or 0.0
    exp = _numeric_claim(claims, "exp") or 0.0
    if now + CLOCK_SKEW_SECONDS < nbf or now - CLOCK_SKEW_SECONDS >= exp:
        raise EntraError(700024, now=_assertion_time(now), nbf=_assertion_time(nbf),
                         exp=_assertion_time(exp))


def _check_lifetime(claims: dict[str, Any]) -> None:
    exp = _numeric_claim(claims, "exp")
    issued = _numeric_claim(claims, "iat") or _numeric_claim(claims, "nbf")
    if exp is not None and issued is not None and exp - issued > MAX_ASSERTION_LIFETIME_SECONDS:
        raise EntraError(70023, iat=int(issued), exp=int(exp))


# -- request helpers --------------------------------------------------------------------------
def _form(req: Request) -> dict[str, str]:
    """The form body, plus client_id/client_secret from HTTP Basic (client_secret_basic)."""
    try:
        form = req.form()
    except (UnicodeDecodeError, ValueError):
        form = {}
    auth = req.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        form.setdefault("client_id", unquote(user))
        form.setdefault("client_secret", unquote(password))
    return form


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise EntraError(900144, name=name)
    return value


def _normal_resource(resource: str) -> str:
    return resource.rstrip("/").lower()


def _correlation_id(req: Request) -> str:
    """Entra echoes the client-request-id a client sends (MSAL does) as the correlation id."""
    sent = req.headers.get("client-request-id", "")
    try:
        return str(uuid.UUID(sent))
    except ValueError:
        return str(uuid.uuid4())


def _reply_headers(req: Request, trace_id: str) -> dict[str, str]:
    headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache",
               "x-ms-request-id": trace_id, "x-ms-ests-server": "wi-lab"}
    if req.headers.get("client-request-id"):
        headers["client-request-id"] = req.headers["client-request-id"]
    return headers


def build_router(lab: "Lab") -> Router:
    return EntraService(lab).router()
