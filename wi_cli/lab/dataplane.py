"""Key Vault and Blob data planes, enough for ``wi probe``'s checks: list secrets, list blobs.

Each runs on its own HTTPS server, path-style (as Azurite does): a vault's URI is
``{keyvault}/{vault}/`` and an account's blob endpoint ``{blob}/{account}/``; ARM's GET of the
vault / storage account answers exactly these URLs. Both accept only Entra access tokens for
their own audience (``https://vault.azure.net``, ``https://storage.azure.com``) and authorise
by RBAC data actions from role assignments at the resource's scope or above, answering with the
real services' status codes and error bodies (Key Vault JSON, Storage XML).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from . import rbac
from .azure_state import KEY_VAULT_TYPE, STORAGE_ACCOUNT_TYPE
from .http import Request, Response, Router, json_response
from .tokens import TokenError, verify_access_token

if TYPE_CHECKING:
    from .runtime import Lab

KEYVAULT_AUDIENCE = "https://vault.azure.net"
STORAGE_AUDIENCE = "https://storage.azure.com"
KEYVAULT_API_VERSIONS = ("7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6")
SECRETS_READ_METADATA = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
BLOBS_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
OAUTH_MIN_STORAGE_VERSION = "2017-11-09"


def vault_uri(lab: "Lab", name: str) -> str:
    return f"{lab.keyvault.url}/{name}/"


def blob_endpoint(lab: "Lab", account: str) -> str:
    return f"{lab.blob.url}/{account}/"


def _caller(claims: dict[str, Any]) -> str:
    return f"appid={claims.get('appid')};oid={claims.get('oid')};iss={claims.get('iss')}"


# -- Key Vault ------------------------------------------------------------------------------------
class KeyVault:
    def __init__(self, lab: "Lab") -> None:
        self.lab = lab

    def router(self) -> Router:
        r = Router(ignore_case=True)
        r.not_found = lambda req: self._error(404, "NotFound", "The requested URL was not found.")
        r.add("GET", r"/(?P<vault>[^/]+)/secrets/?", self.list_secrets)
        return r

    @staticmethod
    def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
               inner: str | None = None) -> Response:
        error: dict[str, Any] = {"code": code, "message": message}
        if inner:
            error["innererror"] = {"code": inner}
        return json_response(status, {"error": error}, headers)

    def _challenge(self, vault: dict[str, Any]) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer authorization="{self.lab.authority_host}'
                                    f'{vault["tenant_id"]}", resource="{KEYVAULT_AUDIENCE}"'}

    def list_secrets(self, req: Request) -> Response:
        vault = self.lab.azure.resource_named(KEY_VAULT_TYPE, req.params["vault"])
        if vault is None:
            return self._error(404, "VaultNotFound",
                               f"The vault '{req.params['vault']}' could not be found.")
        version = req.arg("api-version")
        if version not in KEYVAULT_API_VERSIONS:
            return self._error(400, "BadParameter",
                               "The specified version (" + str(version) + ") is not recognized. "
                               "Consider using the latest supported version (7.6).")
        if not req.bearer:
            return self._error(401, "Unauthorized",
                               "AKV10000: Request is missing a Bearer or PoP token.",
                               self._challenge(vault))
        try:
            claims = verify_access_token(self.lab, req.bearer, [KEYVAULT_AUDIENCE])
        except TokenError as err:
            message = ("AKV10022: Invalid audience. Expected https://vault.azure.net."
                       if err.code == "InvalidAuthenticationTokenAudience"
                       else f"AKV10032: {err.message}")
            return self._error(401, "Unauthorized", message, self._challenge(vault))
        if str(claims.get("tid", "")).lower() != vault["tenant_id"].lower():
            return self._error(401, "Unauthorized",
                               "AKV10032: Invalid issuer. Expected one of "
                               f"https://sts.windows.net/{vault['tenant_id']}/.",
                               self._challenge(vault))
        if not rbac.allowed_in_state(self.lab.azure, str(claims.get("oid", "")),
                                     SECRETS_READ_METADATA, vault["id"], data=True):
            return self._forbidden(vault, claims)
        base = vault_uri(self.lab, vault["name"])
        items = [{"id": f"{base}secrets/{name}",
                  "attributes": {"enabled": True, "created": int(vault["created_at"]),
                                 "updated": int(vault["created_at"]),
                                 "recoveryLevel": "Recoverable+Purgeable",
                                 "recoverableDays": 90},
                  "tags": {}}
                 for name in sorted(vault["secrets"])]
        return json_response(200, {"value": items, "nextLink": None})

    def _forbidden(self, vault: dict[str, Any], claims: dict[str, Any]) -> Response:
        message = ("Caller is not authorized to perform action on resource.\r\n"
                   "If role assignments, deny assignments or role definitions were changed "
                   "recently, please observe propagation time.\r\n"
                   f"Caller: {_caller(claims)}\r\n"
                   f"Action: '{SECRETS_READ_METADATA}'\r\n"
                   f"Resource: '{vault['id'].lower()}/secrets'\r\n"
                   "Assignment: (not found)\r\n"
                   "DenyAssignmentId: null\r\n"
                   "DecisionReason: 'DeniedWithNoValidRBAC' \r\n"
                   f"Vault: {vault['name']};location={vault['location']}\r\n")
        return self._error(403, "Forbidden", message, inner="ForbiddenByRbac")


# -- Blob storage ---------------------------------------------------------------------------------
def _rfc1123(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


class BlobService:
    def __init__(self, lab: "Lab") -> None:
        self.lab = lab

    def router(self) -> Router:
        r = Router(ignore_case=True)
        r.not_found = lambda req: self._error(400, "InvalidUri",
                                              "The requested URI does not represent any "
                                              "resource on the server.")
        r.add("GET", r"/(?P<account>[^/]+)/(?P<container>[^/]+)/?", self.list_blobs)
        return r

    @staticmethod
    def _error(status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> Response:
        request_id = str(uuid.uuid4())
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        body = ('<?xml version="1.0" encoding="utf-8"?><Error>'
                f"<Code>{code}</Code><Message>{escape(message)}\n"
                f"RequestId:{request_id}\nTime:{stamp}</Message></Error>")
        h = {"Content-Type": "application/xml", "x-ms-error-code": code,
             "x-ms-request-id": request_id}
        h.update(headers or {})
        return Response(status, body.encode(), h)

    def _challenge(self, account: dict[str, Any]) -> dict[str, str]:
        return {"WWW-Authenticate": f"Bearer authorization_uri={self.lab.authority_host}"
                                    f"{account['tenant_id']}/oauth2/authorize "
                                    f"resource_id={STORAGE_AUDIENCE}"}

    def list_blobs(self, req: Request) -> Response:
        account = self.lab.azure.resource_named(STORAGE_ACCOUNT_TYPE, req.params["account"])
        if account is None:
            return self._error(404, "ResourceNotFound", "The specified resource does not exist.")
        if req.arg("restype") != "container" or req.arg("comp") != "list":
            return self._error(400, "InvalidQueryParameterValue",
                               "Value for one of the query parameters specified in the request "
                               "URI is invalid.")
        if not req.bearer:
            return self._error(401, "NoAuthenticationInformation",
                               "Server failed to authenticate the request. Please refer to the "
                               "information in the www-authenticate header.",
                               self._challenge(account))
        version = req.headers.get("x-ms-version", "")
        if not version or version < OAUTH_MIN_STORAGE_VERSION:
            return self._error(400, "InvalidAuthenticationInfo",
                               "Authentication scheme Bearer is not supported in this version.")
        try:
            claims = verify_access_token(self.lab, req.bearer, [STORAGE_AUDIENCE])
        except TokenError as err:
            return self._error(401, "InvalidAuthenticationInfo",
                               f"Server failed to authenticate the request. {err.message}",
                               self._challenge(account))
        name = req.params["container"]
        blobs = account["containers"].get(name)
        scope = f"{account['id']}/blobServices/default/containers/{name}"
        if not rbac.allowed_in_state(self.lab.azure, str(claims.get("oid", "")), BLOBS_READ,
                                     scope, data=True):
            return self._error(403, "AuthorizationPermissionMismatch",
                               "This request is not authorized to perform this operation using "
                               "this permission.")
        if blobs is None:
            return self._error(404, "ContainerNotFound", "The specified container does not exist.")
        return Response(200, self._enumeration(account, name, blobs).encode(),
                        {"Content-Type": "application/xml", "x-ms-version": version})

    def _enumeration(self, account: dict[str, Any], container: str,
                     blobs: dict[str, bytes]) -> str:
        stamp = _rfc1123(account["created_at"])
        items = "".join(
            f"<Blob><Name>{escape(name)}</Name><Properties><Creation-Time>{stamp}"
            f"</Creation-Time><Last-Modified>{stamp}</Last-Modified>"
            f"<Content-Length>{len(data)}</Content-Length>"
            "<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob"
            "</BlobType><AccessTier>Hot</AccessTier><LeaseStatus>unlocked</LeaseStatus>"
            "<LeaseState>available</LeaseState></Properties></Blob>"
            for name, data in sorted(blobs.items()))
        endpoint = blob_endpoint(self.lab, account["name"])
        return ('<?xml version="1.0" encoding="utf-8"?>'
                f'<EnumerationResults ServiceEndpoint="{escape(endpoint)}" '
                f'ContainerName="{escape(container)}"><Blobs>{items}</Blobs><NextMarker />'
                "</EnumerationResults>")


def build_keyvault_router(lab: "Lab") -> Router:
    return KeyVault(lab).router()


def build_blob_router(lab: "Lab") -> Router:
    return BlobService(lab).router()
