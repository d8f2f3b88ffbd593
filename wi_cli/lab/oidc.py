"""The public OIDC issuer host: where Entra fetches a cluster's discovery document and JWKS.

On AKS these are public blobs under ``https://{region}.oic.prod-aks.azure.com/{tenant}/{guid}/``;
in the lab one HTTPS server hosts every issuer under its own path, so issuer URLs look like
``https://127.0.0.1:{port}/{tenant}/{guid}/`` and end in ``/`` like AKS's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .http import LabServer, Request, Response, Router, json_response
from .keys import SigningKey

if TYPE_CHECKING:
    from .runtime import Lab

KeySource = Callable[[], list[SigningKey]]


class IssuerHost:
    def __init__(self, lab: "Lab") -> None:
        self._issuers: dict[str, KeySource] = {}  # path prefix (no slashes at the ends)
        # path prefix -> HTTP status to answer instead (e.g. 404: blob gone, 500: broken)
        self.broken: dict[str, int] = {}
        router = Router()
        router.add("GET", r"/(?P<prefix>.+)/\.well-known/openid-configuration", self._discovery)
        router.add("GET", r"/(?P<prefix>.+)/openid/v1/jwks", self._jwks)
        self.server = LabServer("oidc", router, lab.ca, request_log=lab.request_log)

    def register(self, prefix: str, keys: KeySource) -> str:
        """Serve an issuer under ``prefix``; returns its issuer URL (with the trailing slash)."""
        prefix = prefix.strip("/")
        self._issuers[prefix] = keys
        return self.issuer_url(prefix)

    def unregister(self, prefix: str) -> None:
        self._issuers.pop(prefix.strip("/"), None)

    def issuer_url(self, prefix: str) -> str:
        return f"{self.server.url}/{prefix.strip('/')}/"

    def break_issuer(self, issuer_url: str, status: int = 404) -> None:
        self.broken[self._prefix_of(issuer_url)] = status

    def repair_issuer(self, issuer_url: str) -> None:
        self.broken.pop(self._prefix_of(issuer_url), None)

    def _prefix_of(self, issuer_url: str) -> str:
        return issuer_url[len(self.server.url):].strip("/")

    def _lookup(self, req: Request) -> tuple[str, KeySource] | Response:
        prefix = req.params["prefix"].strip("/")
        if prefix in self.broken:
            return json_response(self.broken[prefix], {"error": "issuer unavailable"})
        keys = self._issuers.get(prefix)
        if keys is None:
            return Response(404, b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
                                 b"BlobNotFound</Code><Message>The specified blob does not exist."
                                 b"</Message></Error>", {"Content-Type": "application/xml"})
        return prefix, keys

    def _discovery(self, req: Request) -> Response:
        found = self._lookup(req)
        if isinstance(found, Response):
            return found
        issuer = self.issuer_url(found[0])
        return json_response(200, {
            "issuer": issuer,
            "jwks_uri": f"{issuer}openid/v1/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    def _jwks(self, req: Request) -> Response:
        found = self._lookup(req)
        if isinstance(found, Response):
            return found
        return json_response(200, {"keys": [k.jwk() for k in found[1]()]},
                             content_type="application/jwk-set+json")
