"""Live facts: a service-account token minted through the TokenRequest API (no pod needed), and
that token exchanged at Entra exactly as a pod's SDK would, waiting a bounded time while a fresh
credential propagates. Tokens stay in memory: nothing here is ever shown but decoded claims."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ...core.config import Settings
from ...core.errors import KubernetesError
from ...core.models import (
    FederatedCredential,
    Identity,
    Propagation,
    ServiceAccountRef,
    age_since,
    credential_matches,
    propagation_budget,
    propagation_of,
    propagation_waits,
)
from . import Context, Scope, fact
from .cluster import Issuer
from .identities import Binding
from .webhook import Audience, WebhookInstall
from .workloads import Key

TOKEN_SECONDS = 3600


@dataclass
class Minted:
    """A TokenRequest result: the token (never shown), or why there is none."""

    token: str | None = field(default=None, repr=False)
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


NO_TENANT = ("doctor cannot tell which tenant the pod would use: the service account has no "
             "tenant-id annotation, the identity's tenant is unknown and the webhook's "
             "AZURE_TENANT_ID could not be read")


@dataclass
class Exchange:
    tenant_id: str | None
    claims: dict[str, Any] | None = None  # decoded access-token claims when Entra said yes
    code: str | None = None  # AADSTS code when it said no
    message: str | None = None  # Entra's (or the transport's) words, token-free
    waited: float = 0.0  # seconds spent waiting for a fresh credential to propagate
    propagation: Propagation | None = None  # the refusal is a fresh credential propagating

    @property
    def ok(self) -> bool:
        return self.claims is not None

    @property
    def known_to_entra(self) -> bool:
        """Entra recognised the client id (it issued a token or refused for another reason)."""
        return self.ok or (self.code is not None and self.code not in ("AADSTS700016",
                                                                       "AADSTS90002"))


@fact
def minted_tokens(ctx: Context, scope: Scope, bindings: list[Binding],
                  token_audience: Audience) -> dict[Key, Minted]:
    if not scope.live:
        return {}
    import jwt

    def mint(b: Binding) -> Minted:
        try:
            token = ctx.kube.request_token(ServiceAccountRef(b.namespace, b.name),
                                           token_audience.audience, TOKEN_SECONDS)
        except KubernetesError as exc:
            if exc.status not in (403, 404):  # a throttled, failing or unreachable API server
                raise  # is no verdict on the binding: the checks say it could not be read
            return Minted(error=exc.message)
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return Minted(error="the API server returned something that is not a JWT")
        return Minted(token, header, claims)

    return dict(zip((b.key for b in bindings), ctx.map(mint, bindings)))


def tenant_for(b: Binding, webhook: WebhookInstall | None, settings: Settings) -> str | None:
    """What the webhook would inject as AZURE_TENANT_ID: the annotation, else the identity's
    tenant, else the webhook's config map, else the operator's."""
    if b.tenant_id:
        return b.tenant_id
    if b.identity is not None and b.identity.tenant_id:
        return b.identity.tenant_id
    for backend in (webhook.backends.values() if webhook else []):
        tenant = backend.config_map.data.get("AZURE_TENANT_ID") if backend.config_map else None
        if tenant:
            return tenant
    return settings.tenant


@dataclass(frozen=True)
class Freshness:
    """What ARM says about the credential and identity a binding's exchange needs."""

    exact_match: bool = False
    credential_age: float | None = None
    changed: bool = False
    identity_age: float | None = None

    def propagation(self, code: str | None) -> Propagation | None:
        return propagation_of(code, credential_age=self.credential_age,
                              exact_match=self.exact_match, identity_age=self.identity_age,
                              changed=self.changed)


def identity_age(ident: Identity, now: float) -> float | None:
    return age_since(ident.created_at, None, now)[0]


def fic_age(fic: FederatedCredential, now: float) -> tuple[float | None, bool]:
    """Seconds since the credential was created or last changed (None when ARM did not say:
    systemData is optional), and whether that was a change."""
    return age_since(fic.created_at, fic.modified_at, now)


def freshness(b: Binding, credentials: list[FederatedCredential] | None, issuer: str | None,
              audience: str, now: float) -> Freshness:
    if b.identity is None:
        return Freshness()
    ident_age = identity_age(b.identity, now)
    found = next((c for c in credentials or []
                  if issuer and credential_matches(c, issuer, b.subject, audience)), None)
    if found is None:
        return Freshness(identity_age=ident_age)
    age, changed = fic_age(found, now)
    return Freshness(True, age, changed, ident_age)


def while_propagating(attempt: Callable[[], Exchange], fresh: Freshness,
                      budget: float) -> Exchange:
    """wi's own bounded retry while Entra does not see a fresh credential (or identity) yet."""
    outcome = attempt()
    waited = 0.0
    for pause in propagation_waits(budget):
        if outcome.ok or fresh.propagation(outcome.code) is None:
            break
        time.sleep(pause)
        waited += pause
        outcome = attempt()
    outcome.waited = waited
    outcome.propagation = None if outcome.ok else fresh.propagation(outcome.code)
    return outcome


@fact
def exchanges(ctx: Context, scope: Scope, settings: Settings, bindings: list[Binding],
              minted_tokens: dict[Key, Minted], token_audience: Audience,
              webhook: WebhookInstall | None = None, cluster_issuer: Issuer | None = None,
              fics: dict[str, list[FederatedCredential]] | None = None) -> dict[Key, Exchange]:
    if not scope.live:
        return {}
    wanted = [b for b in bindings if minted_tokens.get(b.key) and minted_tokens[b.key].token]
    budget = propagation_budget(settings.env)
    now = time.time()

    def run(b: Binding) -> Exchange:
        tenant = tenant_for(b, webhook, settings)
        token = minted_tokens[b.key].token or ""

        def attempt() -> Exchange:
            if not tenant:
                return Exchange(None, message=NO_TENANT)
            answer = ctx.entra.exchange(tenant, b.client_id, token)
            return Exchange(tenant, answer.claims, answer.code, answer.message)

        credentials = (fics or {}).get(b.identity.id.key) if b.identity and fics else None
        fresh = freshness(b, credentials, cluster_issuer.url if cluster_issuer else None,
                          token_audience.audience, now)
        return while_propagating(attempt, fresh, budget)

    return dict(zip((b.key for b in wanted), ctx.map(run, wanted)))
