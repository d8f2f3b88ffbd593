"""ARM's front door, shared by every resource provider: the error envelope, ``api-version`` per
resource family, bearer-token authentication (audience, expiry, tenant of the subscription), RBAC
on the action a call implies, and the headers every answer carries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from .. import rbac
from ..http import Request, Response, Router, json_response
from ..tokens import TokenError, verify_access_token

if TYPE_CHECKING:
    from ..runtime import Lab

# api-versions accepted per resource family: those in NOTES.md plus what the installed SDKs send.
# What the Azure CLI sends too (bench/bind_vs_az.py): az 2.91 pins azure-mgmt-containerservice
# 41.6.0, whose default is 2026-06-01 (AKS ships a stable version most months: 2026-02-01 and
# 2026-03-01 in azure-resourcemanager-containerservice's changelog, 2026-04-01 in
# Azure.ResourceManager.ContainerService 1.5.0's); its aaz `az identity` commands send
# 2025-05-31-preview (Azure.ResourceManager.ManagedServiceIdentities 1.5.0-beta.1 moved to it).
API_VERSIONS: dict[str, tuple[str, ...]] = {
    "containerservice": ("2024-09-01", "2025-01-01", "2025-05-01", "2025-07-01", "2025-10-01",
                         "2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-06-01",
                         "2026-08-01"),
    "msi": ("2018-11-30", "2021-09-30-preview", "2022-01-31-preview", "2023-01-31",
            "2024-11-30", "2025-01-31-preview", "2025-05-31-preview"),
    "authorization": ("2015-07-01", "2018-01-01-preview", "2018-07-01", "2020-04-01-preview",
                      "2020-10-01-preview", "2022-04-01", "2022-05-01-preview"),
    "subscriptions": ("2016-06-01", "2019-11-01", "2020-01-01", "2021-01-01", "2022-12-01"),
    "keyvault": ("2019-09-01", "2021-10-01", "2022-07-01", "2023-02-01", "2023-07-01",
                 "2024-11-01"),
    "storage": ("2021-09-01", "2022-09-01", "2023-01-01", "2023-05-01", "2024-01-01",
                "2025-01-01"),
    "resources": ("2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01", "2024-07-01"),
}
ARM_AUDIENCES_EXTRA = ["https://management.core.windows.net/"]

# URL patterns of the scopes resource providers live under
SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourceGroups/(?P<rg>[^/]+)"


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> Response:
        return json_response(self.status, {"error": {"code": self.code, "message": self.message}},
                             self.headers)


@dataclass
class Call:
    """An authenticated request: who is calling and with which api-version."""

    req: Request
    oid: str
    tid: str
    appid: str
    api_version: str


CallHandler = Callable[[Call], Response]
AddRoute = Callable[[str, str, str, CallHandler], None]  # method, pattern, family, handler


def by_method(call: Call, **handlers: CallHandler) -> Response:
    """Dispatch one resource URL by HTTP method, with ARM's 405 for the others."""
    handler = handlers.get(call.req.method)
    if handler is None:
        raise ArmError(405, "MethodNotAllowed", "The requested resource does not support http "
                       f"method '{call.req.method}'.")
    return handler(call)


def check_api_version(version: str | None, supported: tuple[str, ...]) -> str:
    if not version:
        raise ArmError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all "
                       "requests.")
    if version not in supported:
        listed = ",".join(sorted(supported, reverse=True))
        raise ArmError(400, "InvalidApiVersionParameter",
                       f"The api-version '{version}' is invalid. The supported versions are "
                       f"'{listed}'.")
    return version


def json_body(call: Call) -> dict[str, Any]:
    try:
        body = call.req.json()
    except ValueError:
        raise ArmError(400, "InvalidRequestContent",
                       "The request content was invalid and could not be deserialized.") from None
    return body if isinstance(body, dict) else {}


def not_found(rtype: str, name: str, rg: str) -> ArmError:
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{rtype}/{name}' under resource group '{rg}' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def sub_of_scope(scope: str) -> str | None:
    segments = [s for s in scope.split("/") if s]
    if len(segments) >= 2 and segments[0].lower() == "subscriptions":
        return segments[1]
    return None


def rg_of_scope(scope: str) -> str | None:
    segments = [s for s in scope.split("/") if s]
    if len(segments) >= 4 and segments[2].lower() == "resourcegroups":
        return segments[3]
    return None


class Arm:
    """What every resource provider shares: the lab, its Azure state, and the checks of a call."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.state = lab.azure

    # ----------------------------------------------------------------------------- front door
    def add_op(self, router: Router) -> AddRoute:
        """``add(method, pattern, family, handler)``: a route whose calls pass the front door."""
        def add(method: str, pattern: str, family: str, handler: CallHandler) -> None:
            router.add(method, pattern, lambda req: self._serve(req, family, handler))
        return add

    def _serve(self, req: Request, family: str, handler: CallHandler) -> Response:
        try:
            call = self._authenticate(req, family)
            resp = handler(call)
        except ArmError as err:
            resp = err.response()
        resp.headers.setdefault("x-ms-correlation-request-id",
                                req.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4()))
        if req.method == "GET":
            resp.headers.setdefault("x-ms-ratelimit-remaining-subscription-reads", "11999")
        else:
            resp.headers.setdefault("x-ms-ratelimit-remaining-subscription-writes", "1199")
        return resp

    def _authenticate(self, req: Request, family: str) -> Call:
        sub_id = req.params.get("sub") or sub_of_scope(req.params.get("scope", ""))
        sub = self.state.subscriptions.get(sub_id.lower()) if sub_id else None
        try:
            claims = verify_access_token(self.lab, req.bearer,
                                         [self.lab.arm_audience, *ARM_AUDIENCES_EXTRA])
        except TokenError as err:
            raise self._unauthorized(err.code, err.message, sub.tenant_id if sub else None) from None
        api_version = check_api_version(req.arg("api-version"), API_VERSIONS[family])
        if sub_id and sub is None:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found.")
        tid = str(claims.get("tid", ""))
        if sub is not None and tid.lower() != sub.tenant_id.lower():
            raise self._unauthorized(
                "InvalidAuthenticationTokenTenant",
                f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the "
                f"tenant 'https://sts.windows.net/{sub.tenant_id}/' associated with this "
                f"subscription. Please use the authority (URL) "
                f"'{self.lab.authority_host}{sub.tenant_id}' to get the token. Note, if the "
                "subscription is transferred to another tenant there is no impact to the services, "
                "but information about new tenant could take time to propagate (up to an hour). If "
                "you just transferred your subscription and see this error message, please try "
                "back later.", sub.tenant_id)
        return Call(req, str(claims.get("oid", "")), tid, str(claims.get("appid", "")), api_version)

    def _unauthorized(self, code: str, message: str, tenant: str | None) -> ArmError:
        description = message.replace('"', "'")
        header = (f'Bearer authorization_uri="{self.lab.authority_host}{tenant or "common"}", '
                  f'error="invalid_token", error_description="{description}"')
        return ArmError(401, code, message, {"WWW-Authenticate": header})

    # ----------------------------------------------------------------------------- RBAC
    def authorize(self, call: Call, action: str, scope: str, data: bool = False) -> None:
        if not rbac.allowed_in_state(self.state, call.oid, action, scope, data):
            raise ArmError(
                403, "AuthorizationFailed",
                f"The client '{call.oid}' with object id '{call.oid}' does not have authorization "
                f"to perform action '{action}' over scope '{scope}' or the scope is invalid. If "
                "access was recently granted, please refresh your credentials.")

    def can(self, call: Call, action: str, scope: str) -> bool:
        return rbac.allowed_in_state(self.state, call.oid, action, scope)

    def require_rg(self, sub: str, rg: str) -> None:
        if self.state.get_resource_group(sub, rg) is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
