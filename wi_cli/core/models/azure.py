"""Azure's side of the domain: resource ids and scopes, managed identities, federated
credentials and the rules about them, AKS clusters, and RBAC as ARM evaluates it."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit
from typing import Any, Iterable, Protocol

from .kube import DEFAULT_AUDIENCE, ServiceAccountRef
from .podidentity import AksPodIdentity

# -- Azure resource ids --------------------------------------------------------------------------

_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<provider>[^/]+)"
    r"/(?P<type>[^/]+)/(?P<name>[^/]+)(?P<child>(/[^/]+/[^/]+)*)/?$", re.IGNORECASE)


@dataclass(frozen=True)
class ResourceId:
    """An ARM resource id, parsed once. ARM compares ids without regard to case: so does ``key``."""

    subscription: str
    resource_group: str
    provider: str
    type: str
    name: str
    child: str = ""  # "/federatedIdentityCredentials/NAME" and the like, as given

    @classmethod
    def parse(cls, value: str) -> "ResourceId":
        m = _RESOURCE_ID.match(value.strip())
        if not m:
            raise ValueError(f"not an ARM resource id: {value!r}")
        return cls(m["sub"], m["rg"], m["provider"], m["type"], m["name"], m["child"] or "")

    @classmethod
    def try_parse(cls, value: str | None) -> "ResourceId | None":
        try:
            return cls.parse(value or "")
        except ValueError:
            return None

    def __str__(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{self.provider}/{self.type}/{self.name}{self.child}")

    @property
    def key(self) -> str:
        return str(self).lower()


# ARM scopes a role can be assigned at: a management group, the subscription, a resource group,
# or a resource (nested resources included).
_SCOPE = re.compile(
    r"^/(providers/Microsoft\.Management/managementGroups/[^/]+"
    r"|subscriptions/[^/]+(/resourceGroups/[^/]+(/providers/[^/]+(/[^/]+/[^/]+)+)?)?)/?$",
    re.IGNORECASE)


_NOT_IN_SCOPE = set("{}?#\\")  # no Azure resource name has them; the SDKs' URL templates choke


def is_scope(value: str) -> bool:
    if any(ord(c) < 32 or ord(c) == 127 or c in _NOT_IN_SCOPE for c in value):
        return False
    return bool(_SCOPE.match(value.strip()))


MAX_ISSUER = 600  # a federated credential's issuer (Microsoft Graph federatedIdentityCredential)


def is_issuer_url(value: str) -> bool:
    """An OIDC issuer identifier: https, a host, no query or fragment (OpenID Connect
    Discovery 1.0, section 2), no whitespace or control characters."""
    if len(value) > MAX_ISSUER or any(c.isspace() or ord(c) < 32 for c in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    return (parts.scheme == "https" and bool(host) and not parts.query and not parts.fragment
            and "?" not in value and "#" not in value)


def same_scope(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()



# -- managed identities and federated credentials --------------------------------------------------

MAX_CREDENTIALS = 20  # federated credentials per identity (entra-docs, AWI#575)
CREDENTIAL_NAME_MAX = 120  # ARM: ^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$


@dataclass(frozen=True)
class Identity:
    """A user-assigned managed identity."""

    id: ResourceId
    client_id: str
    principal_id: str
    tenant_id: str
    location: str = ""
    created_at: dt.datetime | None = None  # ARM's systemData.createdAt, when ARM says

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def resource_group(self) -> str:
        return self.id.resource_group

    @property
    def subscription(self) -> str:
        return self.id.subscription


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity credential. It MEANS (issuer, subject, audiences); the name is only a
    handle, and one identity cannot hold two credentials with the same issuer and subject."""

    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...] = (DEFAULT_AUDIENCE,)
    created_at: dt.datetime | None = None
    modified_at: dt.datetime | None = None


class CredentialLike(Protocol):
    """What the rules read of a credential (our model, or anything shaped like it)."""

    @property
    def issuer(self) -> str: ...
    @property
    def subject(self) -> str: ...


def same_trust(credential: CredentialLike, issuer: str, subject: str) -> bool:
    """Is this the credential for (issuer, subject)? Exact comparison: Entra matches issuer and
    subject case-sensitively, and the trailing '/' of an issuer counts."""
    return credential.issuer == issuer and credential.subject == subject


def credential_matches(credential: CredentialLike, issuer: str, subject: str,
                       audience: str) -> bool:
    """Will Entra accept a token with this issuer, subject and audience against the credential?"""
    return same_trust(credential, issuer, subject) and \
        audience in list(getattr(credential, "audiences", None) or [])


def trust_for(credentials: Iterable[Any], issuer: str, subject: str) -> Any | None:
    """The credential that holds the trust (issuer, subject), if any (there is at most one)."""
    return next((c for c in credentials if same_trust(c, issuer, subject)), None)


def expected_refusal(credentials: Iterable[Any], issuer: str, subject: str) -> str:
    """What Entra answers when no credential matches a token exactly: it matches issuer, then
    subject (a case-only difference is 7002138, Azure/login#515), then audience; an identity
    with none at all is 70025."""
    credentials = list(credentials)
    if not credentials:
        return "AADSTS70025"
    same_issuer = [c for c in credentials if c.issuer == issuer]
    if not same_issuer:
        return "AADSTS700211"
    if not any(c.subject == subject for c in same_issuer):
        if any(c.subject.lower() == subject.lower() for c in same_issuer):
            return "AADSTS7002138"
        return "AADSTS700213"
    return "AADSTS700212"


def _name_part(value: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "-", value)


def credential_name(account: ServiceAccountRef, issuer: str, taken: Iterable[str]) -> str:
    """The name for a NEW credential trusting ``account`` from ``issuer``: ``NS-SA`` when no
    credential of the identity has it, else ``NS-SA-`` + 8 hex characters of
    sha256(issuer + subject), else that plus the first free ``-2``, ``-3``...; the base is cut so
    the name stays within ARM's 120 characters. ARM compares names without regard to case."""
    used = {t.lower() for t in taken}
    base = _name_part(f"{account.namespace}-{account.name}")
    if len(base) <= CREDENTIAL_NAME_MAX and base.lower() not in used:
        return base
    digest = hashlib.sha256((issuer + account.subject).encode()).hexdigest()[:8]
    n = 1
    while True:
        suffix = f"-{digest}" if n == 1 else f"-{digest}-{n}"
        candidate = base[:CREDENTIAL_NAME_MAX - len(suffix)] + suffix
        if candidate.lower() not in used:
            return candidate
        n += 1


@dataclass(frozen=True)
class Cluster:
    """An AKS cluster as far as workload identity cares."""

    id: ResourceId
    issuer_url: str | None  # oidcIssuerProfile.issuerURL, when the issuer is on
    oidc_issuer: bool
    workload_identity: bool
    fqdn: str = ""  # the API server's host name
    location: str = ""
    pod_identity_enabled: bool = False  # the pod-managed identity add-on (podIdentityProfile)
    pod_identities: tuple[AksPodIdentity, ...] = ()

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def resource_group(self) -> str:
        return self.id.resource_group


def cluster_behind(clusters: Iterable[Cluster], server: str,
                   issuer: str | None = None) -> tuple[Cluster | None, str]:
    """The AKS cluster a kubeconfig's API ``server`` belongs to, and how it was recognised: its
    OIDC issuer is the one the API server announces, else its FQDN is the server's host."""
    clusters = list(clusters)
    if issuer:
        for mc in clusters:
            if mc.issuer_url == issuer:
                return mc, "its OIDC issuer matches the API server's"
    host = urlsplit(server).netloc.lower()
    for mc in clusters:
        if mc.fqdn and mc.fqdn.lower() in host:
            return mc, "its FQDN matches the kubeconfig server"
    return None, "no AKS cluster matches this API server (not AKS?)"


@dataclass(frozen=True)
class RoleDefinition:
    id: str
    name: str  # the role's display name, e.g. "Storage Blob Data Reader"

    @property
    def guid(self) -> str:
        return role_guid(self.id)


@dataclass(frozen=True)
class RoleAssignment:
    id: str
    scope: str
    role_guid: str  # the role definition's GUID, lower case
    principal_id: str


def role_guid(role_definition_id: str) -> str:
    """The GUID at the end of a role definition id, lower case."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


@dataclass(frozen=True)
class TokenExchange:
    """What Entra answered to a federated exchange: the access token's claims, or its AADSTS
    code and words (never a token)."""

    claims: dict[str, Any] | None = None
    code: str | None = None
    message: str | None = None


# -- Azure RBAC, evaluated as ARM does it (../shared/contracts/NOTES.md, "RBAC evaluation rules") --

@dataclass(frozen=True)
class PermissionBlock:
    """One entry of ARM's permissions API answer (wildcards as returned, not expanded)."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, doc: Any) -> "PermissionBlock":
        return cls(tuple(doc.get("actions") or ()), tuple(doc.get("notActions") or ()))


@lru_cache(maxsize=1024)
def _action_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")) + r"\Z",
                      re.IGNORECASE | re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Does an ``actions``/``notActions`` pattern cover ``action``? ``*`` spans any characters
    ('/' included) and case is ignored."""
    return _action_pattern(pattern).match(action) is not None


def permits(blocks: Iterable[PermissionBlock], action: str) -> bool:
    """A block allows ``action`` when one of its ``actions`` matches and none of ITS
    ``notActions`` does; blocks (roles) add up: ``notActions`` is not a deny."""
    return any(any(action_matches(p, action) for p in b.actions)
               and not any(action_matches(p, action) for p in b.not_actions) for b in blocks)
