"""Federated identity credentials (FICs) of a user-assigned identity: list (``$top`` pages),
get, create/update and delete, with the MSI resource provider's validation and limits, and its
refusal of concurrent FIC writes under one identity (the write window)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from ..azure_state import FederatedCredential, UserAssignedIdentity
from ..http import Response, json_response
from .frontdoor import RG, AddRoute, Arm, ArmError, Call, by_method, iso, json_body
from .identities import MI_PATH, UAMI, identity_id, msi_id
from .paging import page

FIC = UAMI + "/federatedIdentityCredentials"
FIC_UNSUPPORTED_REGIONS = frozenset({"malaysiasouth", "newzealandnorth"})
FIC_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}\Z")
FIC_MAX_PER_IDENTITY = 20
FIC_FIELD_MAX = 600


class FederatedCredentials:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.state = arm.state
        self._writes: dict[str, float] = {}  # identity id lower -> write window end
        self._writes_lock = threading.Lock()
        self._system: dict[str, dict[str, str]] = {}  # FIC id lower -> systemData

    def routes(self, add: AddRoute) -> None:
        add("GET", RG + MI_PATH + r"/(?P<name>[^/]+)/federatedIdentityCredentials", "msi",
            self.list_fics)
        add("*", RG + MI_PATH + r"/(?P<name>[^/]+)/federatedIdentityCredentials/(?P<fic>[^/]+)",
            "msi", self.fic)

    def body(self, ident: UserAssignedIdentity, fic: FederatedCredential) -> dict[str, Any]:
        fid = f"{msi_id(ident.id)}/federatedIdentityCredentials/{fic.name}"
        system = self._system.get(fid.lower()) or {
            "createdAt": iso(fic.created_at), "lastModifiedAt": iso(fic.created_at)}
        body = {
            "id": fid,
            "name": fic.name,
            "type": FIC,
            "properties": {"issuer": fic.issuer, "subject": fic.subject,
                           "audiences": list(fic.audiences)},
            "systemData": dict(system),
        }
        if not self.state.system_data:  # optional in real responses (the spec examples lack it)
            del body["systemData"]
        return body

    def _parent_identity(self, call: Call, action: str) -> UserAssignedIdentity:
        p = call.req.params
        scope = identity_id(call)
        if "fic" in p:
            scope += f"/federatedIdentityCredentials/{p['fic']}"
        self.arm.authorize(call, action, scope)
        self.arm.require_rg(p["sub"], p["rg"])
        ident = self.state.identity(p["sub"], p["rg"], p["name"])
        if ident is None:
            raise ArmError(404, "NotFound", "The parent user-assigned identity doesn't exist.")
        return ident

    def list_fics(self, call: Call) -> Response:
        top = call.req.arg_ci("$top")
        page_size = None
        if top is not None:
            if not top.isdigit() or int(top) < 1:
                raise ArmError(400, "BadRequest", f"The value '{top}' of $top is invalid.")
            page_size = int(top)
        with self.state.lock:
            ident = self._parent_identity(call, f"{FIC}/read")
            items = [self.body(ident, f) for f in
                     sorted(ident.fics.values(), key=lambda f: f.name.lower())]
        return page(call, items, page_size or self.state.page_size, "$skiptoken")

    def fic(self, call: Call) -> Response:
        return by_method(call, GET=self._get_fic, PUT=self._put_fic, DELETE=self._delete_fic)

    def _get_fic(self, call: Call) -> Response:
        name = call.req.params["fic"]
        with self.state.lock:
            ident = self._parent_identity(call, f"{FIC}/read")
            fic = ident.fics.get(name.lower())
            if fic is None:
                raise ArmError(404, "NotFound",
                               f"Federated Identity Credential '{name}' was not found.")
            return json_response(200, self.body(ident, fic))

    def _put_fic(self, call: Call) -> Response:
        name = call.req.params["fic"]
        with self.state.lock:
            ident = self._parent_identity(call, f"{FIC}/write")
        if ident.location.replace(" ", "").lower() in FIC_UNSUPPORTED_REGIONS:
            # the text of entra-docs workload-identity-federation-considerations.md (error table)
            raise ArmError(405, "MethodNotAllowed",
                           "The request format was unexpected: Support for federated identity "
                           "credentials not enabled.")
        with self._write_window(ident):
            issuer, subject, audiences = _validate(name, json_body(call))
            with self.state.lock:
                return self._store(call, ident, name, issuer, subject, audiences)

    def _store(self, call: Call, ident: UserAssignedIdentity, name: str, issuer: str,
               subject: str, audiences: list[str]) -> Response:
        existing = ident.fics.get(name.lower())
        for other in ident.fics.values():
            if other is not existing and other.issuer == issuer and other.subject == subject:
                raise ArmError(400, "BadRequest",
                               "Issuer and subject combination already exists for this Managed "
                               "Identity.")
        if existing is None and len(ident.fics) >= FIC_MAX_PER_IDENTITY:
            raise ArmError(400, "BadRequest",
                           f"A maximum of {FIC_MAX_PER_IDENTITY} federated identity credentials can "
                           "be added to a user-assigned managed identity.")
        now = time.time()
        fid = f"{msi_id(ident.id)}/federatedIdentityCredentials/{name}".lower()
        if existing is None:
            fic = self.state.add_fic(ident, name, issuer, subject, audiences)
            self._system[fid] = {
                "createdBy": call.appid, "createdByType": "Application", "createdAt": iso(now),
                "lastModifiedBy": call.appid, "lastModifiedByType": "Application",
                "lastModifiedAt": iso(now)}
            return json_response(201, self.body(ident, fic))
        if (existing.issuer, existing.subject, existing.audiences) != (issuer, subject, audiences):
            existing.created_at = now  # a changed credential propagates anew
        existing.issuer, existing.subject, existing.audiences = issuer, subject, audiences
        system = self._system.setdefault(fid, {"createdAt": iso(existing.created_at)})
        system.update({"lastModifiedBy": call.appid, "lastModifiedByType": "Application",
                       "lastModifiedAt": iso(now)})
        return json_response(200, self.body(ident, existing))

    def _delete_fic(self, call: Call) -> Response:
        name = call.req.params["fic"]
        with self.state.lock:
            ident = self._parent_identity(call, f"{FIC}/delete")
        with self._write_window(ident):
            with self.state.lock:
                if ident.fics.pop(name.lower(), None) is None:
                    return Response(204)
                self._system.pop(f"{msi_id(ident.id)}/federatedIdentityCredentials/{name}".lower(),
                                 None)
                return Response(200)

    def _write_window(self, ident: UserAssignedIdentity) -> "_WriteWindow":
        return _WriteWindow(self, ident, float(self.state.fic_write_seconds))


def _validate(name: str, body: dict[str, Any]) -> tuple[str, str, list[str]]:
    if not FIC_NAME.match(name):
        raise ArmError(400, "BadRequest", f"Federated Identity Credential name '{name}' is invalid.")
    props = body.get("properties")
    if not isinstance(props, dict) or not props:
        raise ArmError(400, "BadRequest",
                       "Federated Identity Credential from HTTP body has empty properties")
    issuer, subject, audiences = props.get("issuer"), props.get("subject"), props.get("audiences")
    if not isinstance(issuer, str) or not issuer:
        raise ArmError(400, "BadRequest", "Issuer is required for a federated identity credential.")
    if (len(issuer) > FIC_FIELD_MAX or not issuer.startswith("https://")
            or any(ch.isspace() for ch in issuer) or len(issuer) <= len("https://")):
        raise ArmError(400, "BadRequest",
                       f"Issuer '{issuer}' is invalid: it must be an HTTPS URL of at most "
                       f"{FIC_FIELD_MAX} characters without whitespace.")
    if not isinstance(subject, str) or not subject.strip():
        raise ArmError(400, "BadRequest", "Subject is required for a federated identity credential.")
    if len(subject) > FIC_FIELD_MAX:
        raise ArmError(400, "BadRequest",
                       f"Subject is invalid: it must be at most {FIC_FIELD_MAX} characters.")
    if (not isinstance(audiences, list) or len(audiences) != 1
            or not isinstance(audiences[0], str) or not audiences[0]):
        raise ArmError(400, "BadRequest",
                       "Federated identity credentials must have exactly one audience.")
    if len(audiences[0]) > FIC_FIELD_MAX:
        raise ArmError(400, "BadRequest",
                       f"Audience is invalid: it must be at most {FIC_FIELD_MAX} characters.")
    return issuer, subject, [audiences[0]]


class _WriteWindow:
    """Holds an identity's FIC write window for the length of one write; a second write to the
    same identity meanwhile is refused with 409, as the MSI resource provider does."""

    def __init__(self, fics: FederatedCredentials, identity: UserAssignedIdentity,
                 seconds: float) -> None:
        self.fics, self.identity, self.seconds = fics, identity, seconds
        self.key = identity.id.lower()

    def __enter__(self) -> None:
        with self.fics._writes_lock:
            if self.fics._writes.get(self.key, 0.0) > time.monotonic():
                # the observed body: Azure/bicep-registry-modules#1447,
                # kubernetes-sigs/cluster-api-provider-azure#5397 (the id in lower case but names)
                raise ArmError(409, "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                               "Too many Federated Identity Credentials are written concurrently "
                               f"for the managed identity '{_observed_id(self.identity)}'. "
                               "Concurrent Federated Identity Credentials writes under the same "
                               "managed identity are not supported.")
            self.fics._writes[self.key] = time.monotonic() + self.seconds + 60
        if self.seconds > 0:
            time.sleep(self.seconds)

    def __exit__(self, *exc: object) -> None:
        with self.fics._writes_lock:
            self.fics._writes.pop(self.key, None)


def _observed_id(ident: UserAssignedIdentity) -> str:
    return (f"/subscriptions/{ident.subscription_id}/resourcegroups/{ident.resource_group}"
            f"/providers/microsoft.managedidentity/userassignedidentities/{ident.name}")
