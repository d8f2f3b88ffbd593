"""Microsoft.ManagedIdentity user-assigned identities: list, get and create/update (PUT).

Their federated identity credentials are in :mod:`.federated_credentials`.
"""

from __future__ import annotations

import re
from typing import Any

from ..azure_state import UserAssignedIdentity
from ..http import Response, json_response
from .frontdoor import RG, SUB, AddRoute, Arm, ArmError, Call, iso, json_body, not_found
from .paging import list_resources

UAMI = "Microsoft.ManagedIdentity/userAssignedIdentities"
MI_PATH = r"/providers/Microsoft\.ManagedIdentity/userAssignedIdentities"


def msi_id(resource_id: str) -> str:
    """The MSI resource provider echoes ids with a lower-case ``resourcegroups``."""
    return re.sub(r"/resourceGroups/", "/resourcegroups/", resource_id, flags=re.IGNORECASE)


def identity_id(call: Call) -> str:
    """The resource id of the identity a URL names (as requested, not as the MSI RP echoes it)."""
    p = call.req.params
    return f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}/providers/{UAMI}/{p['name']}"


class Identities:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.state = arm.state

    def routes(self, add: AddRoute) -> None:
        add("GET", SUB + MI_PATH, "msi", self.list_identities)
        add("GET", RG + MI_PATH, "msi", self.list_identities)
        add("GET", RG + MI_PATH + r"/(?P<name>[^/]+)", "msi", self.get_identity)
        add("PUT", RG + MI_PATH + r"/(?P<name>[^/]+)", "msi", self.put_identity)

    def body(self, ident: UserAssignedIdentity) -> dict[str, Any]:
        return {
            "id": msi_id(ident.id),
            "name": ident.name,
            "type": UAMI,
            "location": ident.location,
            "tags": dict(ident.tags),
            "properties": {"tenantId": ident.tenant_id, "principalId": ident.principal_id,
                           "clientId": ident.client_id, "isolationScope": "None"},
            # ARM's common systemData (optional in real responses); wi reads the age from it
            "systemData": {"createdAt": iso(ident.created_at),
                           "lastModifiedAt": iso(ident.created_at)},
        }

    def list_identities(self, call: Call) -> Response:
        return list_resources(self.arm, call, UAMI, self.state.identities.values(), self.body)

    def get_identity(self, call: Call) -> Response:
        p = call.req.params
        with self.state.lock:
            self.arm.authorize(call, f"{UAMI}/read", identity_id(call))
            self.arm.require_rg(p["sub"], p["rg"])
            ident = self.state.identity(p["sub"], p["rg"], p["name"])
            if ident is None:
                raise not_found(UAMI, p["name"], p["rg"])
            return json_response(200, self.body(ident))

    def put_identity(self, call: Call) -> Response:
        p = call.req.params
        body = json_body(call)
        with self.state.lock:
            self.arm.authorize(call, f"{UAMI}/write", identity_id(call))
            self.arm.require_rg(p["sub"], p["rg"])
            location = body.get("location")
            if not isinstance(location, str) or not location:
                raise ArmError(400, "LocationRequired",
                               "The location property is required for this definition.")
            ident = self.state.identity(p["sub"], p["rg"], p["name"])
            created = ident is None
            if ident is None:
                ident = self.state.add_identity(p["sub"], p["rg"], p["name"],
                                                location.replace(" ", "").lower())
            if isinstance(body.get("tags"), dict):
                ident.tags = {str(k): str(v) for k, v in body["tags"].items()}
            return json_response(201 if created else 200, self.body(ident))
