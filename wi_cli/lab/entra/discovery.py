"""Entra's discovery documents: OpenID configuration (v2.0 and v1), the signing keys (JWKS) and
MSAL's instance discovery."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..http import Request, Response, json_response
from .aadsts import EntraError
from .directory import MULTI_TENANT_ALIASES, tenant_id
from .replies import error_response

if TYPE_CHECKING:
    from ..runtime import Lab


class Discovery:
    def __init__(self, lab: "Lab") -> None:
        self.lab = lab

    @property
    def base(self) -> str:
        return self.lab.entra.url

    def _discovery_tenant(self, req: Request) -> tuple[str, str] | Response:
        """(path segment for endpoints, tenant id for the issuer) or a 400 invalid_tenant."""
        tenant = req.params["tenant"]
        if tenant.lower() in MULTI_TENANT_ALIASES:
            return tenant.lower(), "{tenantid}"
        try:
            tid = tenant_id(self.lab, tenant)
        except EntraError as exc:
            return error_response(self.lab, EntraError(exc.code, error="invalid_tenant",
                                                       tenant=tenant), req)
        return tid, tid

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
                return error_response(self.lab, EntraError(50049), req)
            segments = [s for s in parts.path.split("/") if s]
            tenant = segments[0] if segments else "common"
            version = "v2.0/" if "/oauth2/v2.0/" in parts.path.lower() else ""
        return json_response(200, {
            "tenant_discovery_endpoint":
                f"{self.base}/{tenant}/{version}.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        })
