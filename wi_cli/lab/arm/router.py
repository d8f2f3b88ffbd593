"""The ARM server's router: which resource provider serves which URL, in match order."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..http import Request, Response, Router
from . import metadata
from .authorization import Authorization
from .clusters import Clusters
from .federated_credentials import FederatedCredentials
from .frontdoor import Arm, ArmError
from .identities import Identities
from .providers import Providers
from .subscriptions import Subscriptions
from .vaults_storage import VaultsAndStorage

if TYPE_CHECKING:
    from ..runtime import Lab


class _ArmRouter(Router):
    """ARM ignores empty path segments (the SDK sends ``Microsoft.X//type`` for an empty parent
    resource path), so routes see the path with repeated slashes collapsed."""

    def dispatch(self, req: Request) -> Response:
        req.path = re.sub(r"/{2,}", "/", req.path)
        return super().dispatch(req)


def build_router(lab: "Lab") -> Router:
    arm = Arm(lab)
    r = _ArmRouter(ignore_case=True)
    r.not_found = lambda req: ArmError(
        404, "InvalidResourceType",
        f"The resource type could not be found for the path '{req.path}' in the lab's "
        "Azure Resource Manager.").response()
    r.method_not_allowed = lambda req: ArmError(
        405, "MethodNotAllowed",
        f"The requested resource does not support http method '{req.method}'.").response()
    r.add("GET", r"/metadata/endpoints", lambda req: metadata.endpoints(lab, req))
    add = arm.add_op(r)
    Subscriptions(arm).routes(add)
    Providers(arm).routes(add)  # resource providers and locations
    # Microsoft.Authorization first: its scopes may be any resource id
    Authorization(arm).routes(add)
    Clusters(arm).routes(add)
    Identities(arm).routes(add)
    FederatedCredentials(arm).routes(add)
    VaultsAndStorage(arm).routes(add)  # just enough to find a data plane (wi probe's checks)
    return r
