"""Entra's eventual consistency for new federated identity credentials: a FIC created or
changed a moment ago may not be seen yet (a window the lab's knobs set, or refusals queued with
``refuse_next``), and Entra then answers as if it were not there."""

from __future__ import annotations

import time

from ..azure_state import AzureState, FederatedCredential, ServicePrincipal, UserAssignedIdentity
from .aadsts import EntraError
from .assertion import Assertion, matching_fics


def check_propagated(az: AzureState, sp: ServicePrincipal, identity: UserAssignedIdentity,
                     fics: list[FederatedCredential], matching: list[FederatedCredential],
                     assertion: Assertion) -> None:
    """Entra is eventually consistent: a FIC created or changed a moment ago may not be seen
    yet, less and less often over several minutes (entra-docs
    workload-identity-federation-considerations.md). Entra then answers what it answers
    without that FIC: 70025, 700211 or 700213 (kedacore/keda#8152,
    Azure/azure-workload-identity#1200)."""
    unseen, forced = [], None
    for fic in matching:
        refused, code = az.take_refusal(identity, fic)
        if refused or _still_propagating(az, fic):
            unseen.append(fic)
            forced = forced or code
    if not matching or len(unseen) < len(matching):
        return
    if forced == 70021:
        raise EntraError(70021, iss=assertion.iss, sub=assertion.sub, aud=assertion.aud_text)
    if forced == 700016:  # an identity not replicated yet (openshift/openshift-azure#2211)
        raise EntraError(700016, client_id=sp.client_id, tenant=sp.tenant_id)
    seen = [f for f in fics if all(f is not u for u in unseen)]
    if not seen:
        raise EntraError(70025, client_id=sp.client_id, display_name=sp.display_name)
    matching_fics(seen, assertion)  # raises: the only match is the one not seen


def _still_propagating(az: AzureState, fic: FederatedCredential) -> bool:
    window = float(az.fic_propagation_seconds)
    if window <= 0:
        return False
    with az.lock:
        draw = az.propagation_rng.random()
    return draw < refusal_probability(time.time() - fic.created_at, window)


def refusal_probability(age: float, window: float) -> float:
    """How likely Entra does not see a FIC ``age`` seconds old yet: certain at first, then
    thinning out linearly to never at the end of the window."""
    if window <= 0 or age >= window:
        return 0.0
    return 1.0 - max(age, 0.0) / window
