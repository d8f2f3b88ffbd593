"""Name rules for what wi creates or looks up, checked before anything is touched."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError
from .models import WI_CLIENT_ID, WI_TENANT_ID, WI_USE_LABEL  # noqa: F401 - re-exported

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FIC_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$")
_IDENTITY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")
_IDENTITY_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.ManagedIdentity/userAssignedIdentities/(?P<name>[^/]+)/?$", re.IGNORECASE)


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def check_namespace(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise UsageError(f"Namespace {value!r} is not a valid name.",
                         ["Use lower-case letters, digits and '-', start and end with a letter "
                          "or digit, at most 63 characters (RFC 1123 label)."])
    return value


def check_service_account(value: str) -> str:
    parts = value.split(".")
    if len(value) > 253 or not all(p and len(p) <= 63 and _DNS_LABEL.match(p) for p in parts):
        raise UsageError(f"Service account {value!r} is not a valid name.",
                         ["Use lower-case letters, digits, '-' and '.', each dot-separated part "
                          "starting and ending with a letter or digit, at most 253 characters "
                          "(RFC 1123 subdomain)."])
    return value


def check_fic_name(value: str) -> str:
    if not _FIC_NAME.match(value):
        raise UsageError(f"Federated credential name {value!r} is not valid.",
                         ["3-120 characters: letters, digits, '-' and '_', starting with a "
                          "letter or digit."])
    return value


@dataclass(frozen=True)
class IdentityRef:
    kind: str  # "id" | "client_id" | "name"
    value: str
    subscription: str | None = None
    resource_group: str | None = None
    name: str | None = None


def parse_identity(value: str) -> IdentityRef:
    m = _IDENTITY_ID.match(value)
    if m:
        return IdentityRef("id", value, m["sub"], m["rg"], m["name"])
    if is_guid(value):
        return IdentityRef("client_id", value.lower())
    if _IDENTITY_NAME.match(value):
        return IdentityRef("name", value, name=value)
    raise UsageError(f"Identity {value!r} is not a name, a resource id or a client id.",
                     ["Pass the managed identity's name, its full resource id "
                      "(/subscriptions/…/userAssignedIdentities/NAME) or its client id (GUID)."])
