"""The `wi probe` agent's report as typed values.

The report comes from a pod's log, written by any image: it is read defensively. A value of the
wrong type is dropped (the field keeps its default) and a report that is cut off, not JSON, too
large or from another agent is a :class:`ProbeReportError`, never a traceback. Field names are
the report's keys (wi_cli/agent/agent.py), so ``to_json`` gives back what the agent said."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TypeVar, Union

from ..errors import ExitCode, WiError

__all__ = [
    "PROBE_REPORT_PREFIX", "PROBE_SCHEMA", "MAX_REPORT_BYTES", "ProbeReportError", "ProbeReport",
    "ContainerInfo", "WorkloadEnv", "CredentialChoice", "TokenClaims", "KubernetesClaims",
    "ServiceAccountToken", "Explained", "ExchangeError", "AccessToken", "Tokens", "ArmErrorInfo",
    "SubscriptionSeen", "RoleAssignmentSeen", "ScopePermissions", "Permissions", "CheckError",
    "DataPlaneCheck", "read_report",
]

T = TypeVar("T")
PROBE_REPORT_PREFIX = "WI-PROBE-REPORT "
PROBE_SCHEMA = "wi-probe/v1"
MAX_REPORT_BYTES = 4 * 1024 * 1024  # thousands of role assignments fit; a runaway log does not


class ProbeReportError(WiError):
    """The pod printed a report wi cannot read (the probe found a problem: exit 1)."""

    exit_code = ExitCode.PROBLEMS


# -- reading JSON into the dataclasses below, defensively ------------------------------------------

_BAD = object()  # a value of the wrong type: the field keeps its default


def _coercer(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [_coercer(a) for a in typing.get_args(tp) if a is not type(None)]

        def either(v: Any) -> Any:
            if v is None:
                return None
            return next((c for c in (o(v) for o in options) if c is not _BAD), _BAD)
        return either
    if origin is tuple:
        item = _coercer(typing.get_args(tp)[0])
        return lambda v: (tuple(x for x in map(item, v) if x is not _BAD)
                          if isinstance(v, list) else _BAD)
    if origin is dict:
        return lambda v: dict(v) if isinstance(v, dict) else _BAD
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        cls: type = tp
        return lambda v: _from_json(cls, v) if isinstance(v, dict) else _BAD
    if tp is bool:
        return lambda v: v if isinstance(v, bool) else _BAD
    if tp in (int, float):
        return lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else _BAD
    if tp is str:
        return lambda v: v if isinstance(v, str) else _BAD
    return lambda v: v  # Any


_Plan = tuple[tuple[str, str, Callable[[Any], Any], bool], ...]
_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    """(field, JSON key, coercer, left out of to_json when None) for each field, once a class."""
    if cls not in _PLANS:
        hints = typing.get_type_hints(cls)
        _PLANS[cls] = tuple((f.name, f.metadata.get("json", f.name), _coercer(hints[f.name]),
                             f.metadata.get("omit", False)) for f in dataclasses.fields(cls))
    return _PLANS[cls]


def _from_json(cls: type[T], data: dict[str, Any]) -> T:
    values = {}
    for name, key, coerce, _ in _plan(cls):
        if key in data and (value := coerce(data[key])) is not _BAD:
            values[name] = value
    return cls(**values)


def _out(value: Any) -> Any:
    if isinstance(value, _Json):
        return value.to_json()
    if isinstance(value, tuple):
        return [_out(v) for v in value]
    return value


class _Json:
    """``from_json``/``to_json`` by the field names (``json`` metadata renames one)."""

    _compact = False  # leave out every field that is None (token claims: only what is there)

    @classmethod
    def from_json(cls: type[T], data: Any) -> T:
        return _from_json(cls, data if isinstance(data, dict) else {})

    def to_json(self) -> dict[str, Any]:
        out = {}
        for name, key, _, omit in _plan(type(self)):
            value = getattr(self, name)
            if value is not None or not (omit or self._compact):
                out[key] = _out(value)
        return out


def _key(name: str) -> Any:
    return field(default=(), metadata={"json": name})


def _added() -> Any:
    """A field wi adds (an explanation) or the agent writes only sometimes: absent when None."""
    return field(default=None, metadata={"omit": True})


# -- the report ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContainerInfo(_Json):
    hostname: Optional[str] = None
    pod: Optional[str] = None
    namespace: Optional[str] = None
    node: Optional[str] = None
    uid: Optional[int] = None
    gid: Optional[int] = None
    groups: tuple[int, ...] = ()
    os: Optional[str] = None
    python: Optional[str] = None
    python_implementation: Optional[str] = None


@dataclass(frozen=True)
class WorkloadEnv(_Json):
    variables: dict[str, Any] = field(default_factory=dict)  # the webhook's four, None: unset
    missing: tuple[str, ...] = ()
    other_azure_variables: tuple[str, ...] = ()  # names only: some hold secrets
    token_path: Optional[str] = None


@dataclass(frozen=True)
class CredentialChoice(_Json):
    """What DefaultAzureCredential would use first in the pod."""

    first: Optional[str] = None
    shadows_workload_identity: bool = False
    workload_identity_configured: bool = False
    azure_token_credentials: Optional[str] = None


@dataclass(frozen=True)
class KubernetesClaims(_Json):
    namespace: Optional[str] = None
    serviceaccount: Optional[str] = None
    pod: Optional[str] = None
    node: Optional[str] = None


@dataclass(frozen=True)
class TokenClaims(_Json):
    """The claims the agent keeps of a token (never the token)."""

    _compact = True
    iss: Optional[str] = None
    sub: Optional[str] = None
    aud: Union[str, tuple[str, ...], None] = None  # a list in service-account tokens
    iat: Optional[float] = None
    nbf: Optional[float] = None
    exp: Optional[float] = None
    oid: Optional[str] = None
    tid: Optional[str] = None
    appid: Optional[str] = None
    azp: Optional[str] = None
    xms_mirid: Optional[str] = None
    idtyp: Optional[str] = None
    kubernetes: Optional[KubernetesClaims] = field(default=None, metadata={"json": "kubernetes.io"})

    @property
    def audiences(self) -> tuple[str, ...]:
        return (self.aud,) if isinstance(self.aud, str) else tuple(self.aud or ())


@dataclass(frozen=True)
class ServiceAccountToken(_Json):
    path: Optional[str] = None
    exists: bool = False
    readable: bool = False
    mode: Optional[str] = None
    owner_uid: Optional[int] = None
    owner_gid: Optional[int] = None
    claims: Optional[TokenClaims] = None
    lifetime_seconds: Optional[float] = None
    expires_in_seconds: Optional[float] = None
    error: Optional[str] = None


@dataclass(frozen=True)
class Explained(_Json):
    """wi's root cause and fix for a refusal (added by `wi probe`, not by the agent)."""

    cause: str = ""
    fix: str = ""


@dataclass(frozen=True)
class ExchangeError(_Json):
    code: Optional[str] = None  # AADSTS code
    error: Optional[str] = None  # OAuth error, or not_attempted / no_answer / http_error
    description: Optional[str] = None
    status: Optional[int] = None
    explanation: Optional[Explained] = _added()


@dataclass(frozen=True)
class AccessToken(_Json):
    ok: bool = False
    endpoint: Optional[str] = None
    scope: Optional[str] = None
    client_id: Optional[str] = None
    claims: Optional[TokenClaims] = None
    expires_in_seconds: Optional[float] = None
    error: Optional[ExchangeError] = None
    waited_seconds: Optional[float] = None  # retries while a new credential propagates
    attempts: Optional[int] = None
    codes: tuple[Optional[str], ...] = ()  # Entra's code at each attempt (None: a token)


@dataclass(frozen=True)
class Tokens(_Json):
    service_account: Optional[ServiceAccountToken] = None
    access_token: Optional[AccessToken] = None


@dataclass(frozen=True)
class ArmErrorInfo(_Json):
    status: Optional[int] = None
    code: Optional[str] = None
    message: Optional[str] = None


@dataclass(frozen=True)
class SubscriptionSeen(_Json):
    id: Optional[str] = None
    name: Optional[str] = None
    tenant: Optional[str] = None
    state: Optional[str] = None


@dataclass(frozen=True)
class RoleAssignmentSeen(_Json):
    id: Optional[str] = None
    scope: Optional[str] = None
    role_definition_id: Optional[str] = None
    role: Optional[str] = None  # the role's name, when the identity may read it
    principal_id: Optional[str] = None


@dataclass(frozen=True)
class ScopePermissions(_Json):
    """The identity's effective permissions at one scope, as ARM's permissions API says."""

    scope: str = ""
    role_assignments_error: Optional[ArmErrorInfo] = None
    error: Optional[ArmErrorInfo] = None
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = _key("notActions")
    data_actions: tuple[str, ...] = _key("dataActions")
    not_data_actions: tuple[str, ...] = _key("notDataActions")


@dataclass(frozen=True)
class Permissions(_Json):
    arm_endpoint: Optional[str] = None
    subscriptions: tuple[SubscriptionSeen, ...] = ()
    subscriptions_error: Optional[ArmErrorInfo] = None
    role_assignments: tuple[RoleAssignmentSeen, ...] = ()
    scopes: tuple[ScopePermissions, ...] = ()

    def why_no_role_assignments(self, operator_named_scopes: bool) -> str | None:
        """Why the role list is empty, in one sentence (None when it is not): the identity may
        not read role assignments where it looked, it sees nothing to look at, or it has none
        there. ``operator_named_scopes``: wi pointed the agent at scopes (its operator could
        read the identity's resource group); otherwise only what the token shows was looked at."""
        if self.role_assignments:
            return None
        if not self.scopes:
            said = "The identity sees no subscription, so no scope was inspected"
            if self.subscriptions_error:
                said += f" (listing subscriptions: {self.subscriptions_error.status} " \
                        f"{self.subscriptions_error.code})"
        else:
            refused = [s for s in self.scopes if s.role_assignments_error]
            if refused:
                first = refused[0].role_assignments_error
                said = ("The identity may not read role assignments at "
                        + ", ".join(s.scope for s in refused)
                        + f" ({first.status if first else ''} {first.code if first else ''}); "
                        "its roles there are not visible to it")
            else:
                said = ("The identity has no role assignment at "
                        + ", ".join(s.scope for s in self.scopes) + " (nor inherited from above)")
        if not operator_named_scopes:
            said += (". wi had no Azure subscription and operator credentials to look up more "
                     "scopes: set AZURE_SUBSCRIPTION_ID (or --subscription) and sign in to "
                     "list them")
        return said + "."


@dataclass(frozen=True)
class CheckError(_Json):
    code: Optional[str] = None
    message: Optional[str] = None
    inner: Optional[str] = None  # Key Vault's innererror code (ForbiddenByRbac)


@dataclass(frozen=True)
class DataPlaneCheck(_Json):
    kind: str = ""  # keyvault | storage
    target: Optional[str] = None
    action: Optional[str] = None
    ok: bool = False
    status: Optional[int] = None
    detail: Optional[str] = None
    error: Optional[CheckError] = None
    scope: Optional[str] = None
    explanation: Optional[Explained] = _added()


@dataclass(frozen=True)
class ProbeReport(_Json):
    schema: Optional[str] = None
    fatal: Optional[str] = _added()  # the agent broke before it could report
    container: Optional[ContainerInfo] = None
    env: Optional[WorkloadEnv] = None
    credential: Optional[CredentialChoice] = None
    tokens: Tokens = field(default_factory=Tokens)
    permissions: Optional[Permissions] = None
    checks: tuple[DataPlaneCheck, ...] = ()
    elapsed_seconds: Optional[float] = None

    @property
    def missing(self) -> tuple[str, ...]:
        """The webhook's variables the pod did not get."""
        return self.env.missing if self.env else ()


def read_report(log: str) -> ProbeReport | None:
    """The agent's report: the last log line that starts with the marker (None: there is none).
    Raises ProbeReportError when that line cannot be read."""
    line = next((ln for ln in reversed(log.splitlines()) if ln.startswith(PROBE_REPORT_PREFIX)),
                None)
    if line is None:
        return None
    text = line[len(PROBE_REPORT_PREFIX):].strip()
    keep = "Re-run with --keep and read the report with 'kubectl logs'."
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_REPORT_BYTES:
        raise ProbeReportError(f"The probe agent's report is {size} bytes, more than the "
                               f"{MAX_REPORT_BYTES} wi reads.", [keep])
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # cut off: the object never closes, or the parser ran out of text
        if text.startswith("{") and (not text.endswith("}")
                                     or getattr(exc, "pos", 0) >= len(text)):
            raise ProbeReportError(f"The probe agent's report is cut off after {size} bytes.",
                                   ["Check that the node keeps the pod's whole log (container "
                                    "log size limits).", keep]) from None
        raise ProbeReportError(f"The probe agent's report is not JSON "
                               f"({getattr(exc, 'msg', type(exc).__name__)}).",
                               ["The image must run the agent as wi ships it (python3 "
                                "/opt/wi-probe/agent.py).", keep]) from None
    if not isinstance(data, dict):
        raise ProbeReportError("The probe agent's report is not a JSON object.", [keep])
    if data.get("schema", PROBE_SCHEMA) != PROBE_SCHEMA:
        raise ProbeReportError(f"The probe agent's report has schema {data['schema']!r}; this wi "
                               f"reads {PROBE_SCHEMA}.",
                               ["Something other than wi's agent printed the report line."])
    return ProbeReport.from_json(data)
