"""``POST /{tenant}/oauth2/v2.0/token``: the ``client_credentials`` grant with a client secret
or a federated client assertion (:mod:`.federation`), for one ``{resource}/.default`` scope."""

from __future__ import annotations

import hmac
import uuid
from typing import TYPE_CHECKING

from ..azure_state import ServicePrincipal
from ..http import Request, Response, json_response
from ..tokens import ACCESS_TOKEN_LIFETIME, mint_access_token
from .aadsts import EntraError
from .directory import MULTI_TENANT_ALIASES, principal, tenant_id
from .federation import FederatedAssertions
from .form import read_form, required
from .replies import error_response, reply_headers

if TYPE_CHECKING:
    from ..runtime import Lab

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


class TokenEndpoint:
    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.federation = FederatedAssertions(lab)

    def token(self, req: Request) -> Response:
        try:
            sp, resource = self._client_credentials(req)
        except EntraError as err:
            return error_response(self.lab, err, req)
        body = {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": mint_access_token(self.lab, sp, resource),
        }
        return json_response(200, body, reply_headers(req, str(uuid.uuid4())))

    def _client_credentials(self, req: Request) -> tuple[ServicePrincipal, str]:
        tenant = req.params["tenant"]
        if tenant.lower() in MULTI_TENANT_ALIASES:
            raise EntraError(9001023)
        tid = tenant_id(self.lab, tenant)
        form = read_form(req)
        grant_type = required(form, "grant_type")
        if grant_type != "client_credentials":
            raise EntraError(70003, grant_type=grant_type)
        client_id = required(form, "client_id")
        resource = self._resource_from_scope(required(form, "scope"), tenant)
        if form.get("client_assertion"):
            return self.federation.authenticate(form, tid, client_id), resource
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

    def _authenticate_secret(self, tid: str, client_id: str, secret: str) -> ServicePrincipal:
        sp = principal(self.lab, tid, client_id)
        if not sp.secret or not hmac.compare_digest(sp.secret.encode(), secret.encode()):
            raise EntraError(7000215, client_id=client_id)
        return sp


def _normal_resource(resource: str) -> str:
    return resource.rstrip("/").lower()
