"""Whether a refusal is a fresh credential (or identity) still propagating through Entra."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
