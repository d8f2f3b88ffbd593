"""The domain as small typed values, the rules written once (../shared/DESIGN.md §5), and the
result objects that core functions return and the render layer prints.

Every rule here is a pure function over plain values: commands, doctor checks and the probe call
it instead of restating it."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any, Callable, Iterable, Protocol

from .errors import ExitCode

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


def is_scope(value: str) -> bool:
    return bool(_SCOPE.match(value.strip()))


def same_scope(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


# -- service accounts and their subject ----------------------------------------------------------

SUBJECT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True, order=True)
class ServiceAccountRef:
    namespace: str
    name: str

    @property
    def subject(self) -> str:
        """The ``sub`` claim of this service account's tokens, which a credential must equal."""
        return f"{SUBJECT_PREFIX}{self.namespace}:{self.name}"

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_subject(cls, subject: str) -> "ServiceAccountRef | None":
        if not subject.startswith(SUBJECT_PREFIX):
            return None
        parts = subject[len(SUBJECT_PREFIX):].split(":")
        return cls(parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


# Kubernetes annotations and labels of the workload identity webhook's contract
WI_CLIENT_ID = "azure.workload.identity/client-id"
WI_TENANT_ID = "azure.workload.identity/tenant-id"
WI_USE_LABEL = "azure.workload.identity/use"


@dataclass(frozen=True)
class ServiceAccount:
    ref: ServiceAccountRef
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return (self.annotations.get(WI_CLIENT_ID) or "").strip()


@dataclass(frozen=True)
class PodSummary:
    """What wi reads of a pod: who it runs as, its labels, the client id each container got."""

    namespace: str
    name: str
    service_account: str
    labels: dict[str, str] = field(default_factory=dict)
    client_ids: tuple[tuple[str, str | None], ...] = ()  # (container, AZURE_CLIENT_ID or None)
    owner: tuple[str, str] | None = None  # (kind, name) of its controller
    phase: str = ""


def restart_reason(pod: PodSummary, client_id: str, annotation_changed: bool) -> str | None:
    """Why this pod will not use ``client_id`` until it is re-created (None: it already does).
    The webhook mutates pods only when they are created; a pod that has run to completion (a
    Job's) is history: its next run is a new pod."""
    if pod.phase in ("Succeeded", "Failed"):
        return None
    if pod.labels.get(WI_USE_LABEL) != "true":
        return f'missing the pod label {WI_USE_LABEL}: "true"'
    if annotation_changed:
        return "created before the service account was annotated"
    for container, value in pod.client_ids:
        if value is None:
            return f"container {container} has no AZURE_CLIENT_ID"
        if value.lower() != client_id.lower():
            return f"container {container} has a stale AZURE_CLIENT_ID"
    return None


# -- managed identities and federated credentials --------------------------------------------------

MAX_CREDENTIALS = 20  # federated credentials per identity (entra-docs, AWI#575)
CREDENTIAL_NAME_MAX = 120  # ARM: ^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"


# The workload-identity webhook's objects and its projected-token volume names (AWI
# pkg/webhook consts: ≤ v1.5 "azure-identity-token", v1.6 "azure-workload-identity-reserved-"+hash)
WEBHOOK_DEPLOYMENT = "azure-wi-webhook-controller-manager"
WEBHOOK_NAMESPACES = ("kube-system", "azure-workload-identity-system")  # AKS add-on, Helm
WI_TOKEN_VOLUMES = ("azure-identity-token", "azure-workload-identity-reserved-")


def audience_flag(args: Iterable[str]) -> str | None:
    """The webhook's ``--audience`` flag (cmd/webhook/main.go), as ``--audience=X`` or
    ``--audience X``."""
    args = list(args)
    for i, arg in enumerate(args):
        if arg.startswith("--audience="):
            return arg.split("=", 1)[1] or None
        if arg == "--audience" and i + 1 < len(args):
            return args[i + 1] or None
    return None


def expected_audience(webhook_args: Iterable[Iterable[str]],
                      pod_audiences: Iterable[str]) -> tuple[str, str]:
    """(audience, where it came from) of the cluster's projected tokens: the webhook's
    ``--audience``, else what the labelled pods' projected token volumes ask for, else the
    webhook's default. The webhook never changes it by cloud (AWI NewPodMutator)."""
    for args in webhook_args:
        flag = audience_flag(args)
        if flag:
            return flag, "the webhook's --audience flag"
    seen: dict[str, int] = {}
    for audience in pod_audiences:
        if audience:
            seen[audience] = seen.get(audience, 0) + 1
    if seen:
        return max(seen, key=lambda a: seen[a]), "the projected tokens of labelled pods"
    return DEFAULT_AUDIENCE, "the webhook's default"


@dataclass(frozen=True)
class Identity:
    """A user-assigned managed identity."""

    id: ResourceId
    client_id: str
    principal_id: str
    tenant_id: str
    location: str = ""

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

    issuer: str
    subject: str


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

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def resource_group(self) -> str:
        return self.id.resource_group


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


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


@dataclass
class Evidence:
    expected: Any
    actual: Any


@dataclass
class Remediation:
    text: str
    commands: list[str] = field(default_factory=list)


@dataclass
class Finding:
    id: str
    title: str
    layer: str
    status: Status
    summary: str
    evidence: Evidence | None = None
    remediation: Remediation | None = None
    docs: str | None = None
    # an `error` because Azure or Kubernetes could not be read (not a crashed check)
    unreadable: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "layer": self.layer,
            "status": self.status.value,
            "summary": self.summary,
            "evidence": ({"expected": self.evidence.expected, "actual": self.evidence.actual}
                         if self.evidence else None),
            "remediation": ({"text": self.remediation.text,
                             "commands": list(self.remediation.commands)}
                            if self.remediation else {"text": "", "commands": []}),
            "docs": self.docs,
        }


@dataclass
class CommandResult:
    """What a command produced: data for stdout, findings, and the exit code it implies."""

    command: str
    data: Any = None
    findings: list[Finding] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.OK
    # the command's own human view (tables); the generic key/value view is used without one
    human: Callable[["CommandResult"], None] | None = None

    @property
    def status(self) -> str:
        return "ok" if self.exit_code == ExitCode.OK else "problems"


# -- propagation (issue 12) ---------------------------------------------------------------------
from collections.abc import Mapping  # noqa: E402  (kept in this section on purpose)

# Entra is eventually consistent: for several minutes after a federated credential is created or
# changed, token requests may fail, then less and less often (entra-docs
# workload-identity-federation-considerations.md). What it answers is what it answers for a
# credential it cannot see yet: AADSTS70025, 700211 or 700213 (kedacore/keda#8152,
# Azure/azure-workload-identity#1200), the legacy 70021 the doc names, or a case/audience code
# when an older credential is the nearest one. A brand-new identity may be unknown for a moment
# (AADSTS700016, openshift/openshift-azure#2211).
PROPAGATION_WINDOW_SECONDS = 600
PROPAGATION_WAIT_SECONDS = 10.0  # how long doctor and probe wait for it before reporting
PROPAGATION_CODES = frozenset({"AADSTS70021", "AADSTS700211", "AADSTS700212", "AADSTS700213",
                               "AADSTS7002138", "AADSTS70025"})
IDENTITY_PROPAGATION_CODES = frozenset({"AADSTS700016"})


@dataclass(frozen=True)
class Propagation:
    """A refusal explained by propagation: what is new, and how old it is (None: unknown)."""

    code: str
    what: str  # "credential" or "identity"
    age_seconds: float | None
    changed: bool = False  # the credential was changed (not created) that long ago

    @property
    def age(self) -> str:
        """'created 40 s ago' or 'age unknown': an age, never a timestamp."""
        if self.age_seconds is None:
            return "age unknown"
        return f"{'changed' if self.changed else 'created'} {age_text(self.age_seconds)} ago"


def age_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def propagation_of(code: str | None, *, credential_age: float | None, exact_match: bool,
                   identity_age: float | None = None, changed: bool = False,
                   window: float = PROPAGATION_WINDOW_SECONDS) -> Propagation | None:
    """Whether Entra's refusal ``code`` is a fresh credential (or identity) still propagating.

    ``credential_age``: seconds since the credential that matches the token exactly (issuer,
    subject, audience) was created or last changed, None when ARM did not say (systemData is
    optional); ``exact_match``: whether such a credential exists at all; ``identity_age``: the
    identity's age, None when unknown; ``changed``: the credential's age is since a change.
    An exact match of unknown age counts as propagating.
    """
    if not code:
        return None
    code = "AADSTS" + code.upper().removeprefix("AADSTS")
    if code in IDENTITY_PROPAGATION_CODES:
        if identity_age is not None and identity_age < window:
            return Propagation(code, "identity", identity_age)
        return None
    if code not in PROPAGATION_CODES or not exact_match:
        return None
    if credential_age is None or credential_age < window:
        return Propagation(code, "credential", credential_age, changed)
    return None


def propagation_waits(budget: float = PROPAGATION_WAIT_SECONDS) -> list[float]:
    """The pauses between retries while a credential propagates: short first, at most
    ``budget`` seconds in total."""
    waits: list[float] = []
    for pause in (0.5, 1.0, 2.0, 3.0, 3.0, 5.0, 10.0, 15.0, 30.0):
        left = budget - sum(waits)
        if left <= 0:
            break
        waits.append(min(pause, round(left, 3)))
    while sum(waits) < budget - 1e-9:  # a longer budget than the ladder: 30 s steps
        waits.append(min(30.0, round(budget - sum(waits), 3)))
    return waits


def propagation_budget(environ: Mapping[str, str]) -> float:
    """Seconds to wait for a propagating credential: WI_PROPAGATION_WAIT (0-600), else 10."""
    raw = (environ.get("WI_PROPAGATION_WAIT") or "").strip()
    try:
        value = float(raw) if raw else PROPAGATION_WAIT_SECONDS
    except ValueError:
        return PROPAGATION_WAIT_SECONDS
    return min(max(value, 0.0), 600.0)


def age_since(created: Any, modified: Any, now: float) -> tuple[float | None, bool]:
    """Seconds since ARM's systemData createdAt/lastModifiedAt (datetimes, either may be None),
    whichever is later, and whether that was a change rather than the creation."""
    stamps = {name: value.timestamp() for name, value in (("created", created),
                                                           ("changed", modified))
              if hasattr(value, "timestamp")}
    if not stamps:
        return None, False
    latest = max(stamps.values())
    return now - latest, "created" not in stamps or latest > stamps["created"] + 1
