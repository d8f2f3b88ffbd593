"""Doctor checks of the live layer: mint a service-account token through the TokenRequest API
(no pod needed), look at its claims, and exchange it at Entra exactly as a pod's SDK would.

Tokens stay in memory: findings carry decoded claims only, never a token."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ...adapters.kube.client import kube_errors
from ...core.aadsts import explanation
from ...core.errors import WiError
from ...core.models import (
    PROPAGATION_CODES,
    Propagation,
    age_text,
    propagation_budget,
    propagation_of,
    propagation_waits,
)
from ...render.redact import redact_text
from ..facts import Facts, fact
from ..registry import Report, check
from ..sources import audience_of
from .identity import (
    Binding,
    bind_command,
    exact_fic,
    expected_aadsts,
    fic_age,
    fics_of,
    identity_age,
    mismatch_cause,
    resource_group_of,
    wanted_fic,
)

DOCS = "https://learn.microsoft.com/azure/aks/workload-identity-overview"
TOKEN_SECONDS = 3600
MAX_ASSERTION_SECONDS = 86400
CLOCK_SKEW_WARN_SECONDS = 300
ACCESS_TOKEN_CLAIMS = ("aud", "iss", "oid", "tid", "appid", "azp", "xms_mirid", "exp")


# -- facts ----------------------------------------------------------------------------------------

@dataclass
class Minted:
    """A TokenRequest result: the token (never shown), or why there is none."""

    token: str | None = field(default=None, repr=False)
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


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


def _key(b: Binding) -> tuple[str, str]:
    return (b.namespace, b.name)


@fact("minted_tokens")
def minted_tokens(facts: Facts) -> dict[tuple[str, str], Minted]:
    if not facts.scope.live:
        return {}
    import jwt

    kube = facts.ctx.kube
    audience = audience_of(facts)

    def mint(b: Binding) -> tuple[tuple[str, str], Minted]:
        body = {"spec": {"audiences": [audience], "expirationSeconds": TOKEN_SECONDS}}
        try:
            with kube_errors(f"requesting a token for service account {b.label}", kube.server):
                answer = kube.core.create_namespaced_service_account_token(b.name, b.namespace,
                                                                           body)
        except WiError as exc:
            return _key(b), Minted(error=exc.message)
        token = answer.status.token
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _key(b), Minted(error="the API server returned something that is not a JWT")
        return _key(b), Minted(token, header, claims)

    return dict(facts.map(mint, facts["bindings"]))


def tenant_for(facts: Facts, b: Binding) -> str | None:
    """What the webhook would inject as AZURE_TENANT_ID: the annotation, else (for the pod's
    SDK that is the webhook's config map) the identity's tenant."""
    if b.tenant_id:
        return b.tenant_id
    if b.identity is not None and b.identity.tenant_id:
        return b.identity.tenant_id
    for cm in ((facts.get("webhook") or {}).get("configmaps") or {}).values():
        tenant = (cm.data or {}).get("AZURE_TENANT_ID")
        if tenant:
            return tenant
    return os.environ.get("AZURE_TENANT_ID")


@fact("exchanges")
def exchanges(facts: Facts) -> dict[tuple[str, str], Exchange]:
    if not facts.scope.live:
        return {}
    minted = facts["minted_tokens"]
    wanted = [b for b in facts["bindings"] if minted.get(_key(b)) and minted[_key(b)].token]
    tenants = {_key(b): tenant_for(facts, b) for b in wanted}
    budget = propagation_budget(os.environ)

    def run(b: Binding) -> tuple[tuple[str, str], Exchange]:
        attempt = lambda: exchange(facts.ctx.cloud, tenants[_key(b)], b.client_id,  # noqa: E731
                                   minted[_key(b)].token or "")
        return _key(b), _while_propagating(attempt, _freshness(facts, b), budget)

    return dict(facts.map(run, wanted))


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


def _known_fics(facts: Facts, b: Binding) -> tuple[list[Any], dict[str, Any]] | None:
    """The identity's credentials and the wanted one, when ARM and the issuer could be read
    (the live check still reports the exchange when they could not)."""
    issuer_fact = facts.get("cluster_issuer") or {}
    if b.identity is None or not issuer_fact.get("url") or facts.get("fics") is None:
        return None
    return fics_of(facts, b), wanted_fic(b, issuer_fact["url"], audience_of(facts))


def _freshness(facts: Facts, b: Binding) -> Freshness:
    if b.identity is None:
        return Freshness()
    now = time.time()
    ident_age = identity_age(b.identity, now)
    known = _known_fics(facts, b)
    found = exact_fic(*known) if known else None
    if found is None:
        return Freshness(identity_age=ident_age)
    age, changed = fic_age(found, now)
    return Freshness(True, age, changed, ident_age)


def _while_propagating(attempt: Any, fresh: Freshness, budget: float) -> Exchange:
    """wi's own bounded retry while Entra does not see a fresh credential (or identity) yet."""
    outcome: Exchange = attempt()
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


def exchange(cloud: Any, tenant_id: str | None, client_id: str, token: str) -> Exchange:
    """The federated client-credentials exchange a pod's SDK does, for an ARM token."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    from azure.identity import ClientAssertionCredential

    from ...adapters.azure.credential import transport_options

    # doctor reports the refusal itself; the SDK would also log it to stderr at every retry
    logging.getLogger("azure.identity._internal.get_token_mixin").setLevel(logging.ERROR)
    if not tenant_id:
        return Exchange(None, message="no tenant: the service account has no tenant-id "
                                      "annotation and the identity's tenant is unknown")
    kwargs: dict[str, Any] = {"authority": cloud.authority_host,
                              **transport_options(os.environ)}
    if not cloud.well_known_authority:
        kwargs["disable_instance_discovery"] = True
    credential = ClientAssertionCredential(tenant_id, client_id, lambda: token, **kwargs)
    try:
        access = credential.get_token(cloud.arm_scope)
    except ClientAuthenticationError as exc:
        text = _entra_words(str(exc.message or exc))
        found = explanation(text)
        return Exchange(tenant_id, code=found.code if found else None, message=text)
    except (ServiceRequestError, ValueError) as exc:
        return Exchange(tenant_id, message=redact_text(f"could not reach Entra at "
                                                       f"{cloud.authority_host}: {exc}"))
    finally:
        credential.close()
    return Exchange(tenant_id, claims=_access_claims(access.token))


def _access_claims(token: str) -> dict[str, Any]:
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return {k: claims[k] for k in ACCESS_TOKEN_CLAIMS if k in claims}


def _entra_words(text: str) -> str:
    """The AADSTS sentence(s) without the SDK's preamble and the trace/correlation ids."""
    start = text.find("AADSTS")
    text = text[start:] if start >= 0 else text
    for marker in (" Trace ID:", "\r\nTrace ID:", "\nTrace ID:"):
        text = text.split(marker)[0]
    return redact_text(" ".join(text.split()))


def _when(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


# -- checks ---------------------------------------------------------------------------------------

@check("live.token-exchange", "Token exchange at Entra", layer="live",
       needs=("bindings", "minted_tokens", "exchanges"), live=True,
       failure_modes=(9, 10, 11, 12, 13, 14, 15, 16, 17, 39, 40), docs=DOCS)
def token_exchange(facts: Facts, report: Report) -> None:
    minted, done = facts["minted_tokens"], facts["exchanges"]
    for b in facts["bindings"]:
        token = minted.get(_key(b))
        if token is None or token.error:
            report.fail(f"{b.label}: the API server would not mint a token for it: "
                        f"{token.error if token else 'no answer'}",
                        fix="Let your user create serviceaccounts/token (TokenRequest) in this "
                            "namespace, or check the service account exists.",
                        commands=[f"kubectl auth can-i create serviceaccounts/token -n "
                                  f"{b.namespace}"])
            continue
        outcome = done[_key(b)]
        if outcome.ok:
            _report_success(report, b, outcome)
        else:
            _report_refusal(facts, report, b, outcome)


def _report_success(report: Report, b: Binding, outcome: Exchange) -> None:
    c = outcome.claims or {}
    appid = c.get("appid") or c.get("azp")
    waited = (f" after waiting {outcome.waited:g} s for the new credential to propagate"
              if outcome.waited else "")
    report.ok(f"{b.label}: Entra issued an ARM access token for it{waited} (appid={appid}, "
              f"oid={c.get('oid')}, tid={c.get('tid')}, aud={c.get('aud')}, "
              f"expires {_when(c.get('exp'))}).",
              expected={"appid": b.client_id, "tid": outcome.tenant_id}, actual=c)


def _report_refusal(facts: Facts, report: Report, b: Binding, outcome: Exchange) -> None:
    found = explanation(outcome.message or "")
    waited = f" (after waiting {outcome.waited:g} s)" if outcome.waited else ""
    if outcome.propagation is not None:
        _report_propagating(report, b, outcome, outcome.propagation, waited)
        return
    if found is None:
        report.fail(f"{b.label}: the token exchange failed: {outcome.message}",
                    expected="an access token", actual=outcome.message,
                    fix="Check that the authority host is reachable, then rerun wi doctor.")
        return
    matching = _matching_cause(facts, b, found.code)
    if matching is not None:
        cause, fix = matching
        report.fail(f"{b.label}: Entra refused the exchange with {found.code}{waited}: "
                    f"{cause}.", expected="an access token", actual=outcome.message, fix=fix,
                    commands=[])
        return
    command = bind_command(facts, b)
    fix = found.fix.replace("wi bind SA IDENTITY -n NS", command)
    mismatch = _mismatch(facts, b, found.code)
    cause = f"{mismatch}." if mismatch else found.cause
    report.fail(f"{b.label}: Entra refused the exchange with {found.code}{waited}: {cause}",
                expected="an access token", actual=outcome.message, fix=fix,
                commands=[command] if command in fix else [])


def _report_propagating(report: Report, b: Binding, outcome: Exchange, p: Propagation,
                        waited: str) -> None:
    if p.what == "identity":
        what = (f"identity {b.identity.name if b.identity else b.client_id} was {p.age}: Entra "
                "does not know its client id yet")
    else:
        what = f"the credential that matches it exactly was {p.age} and is not seen by Entra yet"
    report.warn(f"{b.label}: Entra refused the exchange with {p.code}{waited}, but {what} "
                "(that takes a few minutes). Re-run in a few minutes.",
                expected="an access token", actual={"code": p.code, "age": p.age,
                                                    "message": outcome.message},
                fix="Nothing to change: re-run wi doctor in a few minutes (SDKs in the pods "
                    "retry on their own).")


def _mismatch(facts: Facts, b: Binding, code: str) -> str | None:
    """The same cause identity.fic names for this setup, when Entra's code is a matching code
    and no credential matches exactly."""
    known = _known_fics(facts, b) if code in PROPAGATION_CODES else None
    if known is None:
        return None
    fics, want = known
    if exact_fic(fics, want) is not None or expected_aadsts(fics, want) != code:
        return None
    return mismatch_cause(facts, b, fics, want, (facts.get("cluster_issuer") or {}).get("source"))


def _matching_cause(facts: Facts, b: Binding, code: str) -> tuple[str, str] | None:
    """A matching code although a credential matches exactly and is past the propagation
    window: never advise re-creating it."""
    known = _known_fics(facts, b) if code in PROPAGATION_CODES else None
    found = exact_fic(*known) if known else None
    if found is None or b.identity is None:
        return None
    age, changed = fic_age(found, time.time())
    when = f"{'changed' if changed else 'created'} {age_text(age)} ago" if age is not None \
        else "age unknown"
    return (f"credential {found.name} on {b.identity.name} matches the cluster's issuer, this "
            f"service account's subject and the audience ({when}), so the token Entra got "
            "differs from what the cluster should mint (see live.token-claims), or Entra "
            "refuses intermittently",
            "Keep the credential. Compare the token's claims (live.token-claims) with it; if "
            "they agree, re-run in a few minutes.")


def claim_problems(claims: dict[str, Any], audience: str, issuer: str | None,
                   now: float) -> tuple[list[str], dict[str, Any]]:
    """What Entra would refuse in a service-account token, and the claims worth showing."""
    lifetime = _number(claims.get("exp")) - _number(claims.get("iat"))
    aud = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
    shown = {"iss": claims.get("iss"), "sub": claims.get("sub"), "aud": aud,
             "lifetime_seconds": int(lifetime),
             "iat_minus_local_seconds": int(_number(claims.get("iat")) - now)}
    bad = []
    if lifetime > MAX_ASSERTION_SECONDS:
        bad.append(f"it lives {int(lifetime)} s, more than 1 day (AADSTS70023)")
    if aud != [audience]:
        bad.append(f"its audience is {aud}, not [{audience!r}] (AADSTS700212)")
    if issuer and claims.get("iss") != issuer:
        bad.append(f"its issuer {claims.get('iss')!r} is not the cluster's {issuer!r} "
                   "(AADSTS700211)")
    return bad, shown


@check("live.token-claims", "Service-account token claims", layer="live",
       needs=("bindings", "minted_tokens", "cluster_issuer"), live=True,
       failure_modes=(12, 13, 16, 28), docs=DOCS)
def token_claims(facts: Facts, report: Report) -> None:
    audience = audience_of(facts)
    issuer = facts["cluster_issuer"]["url"]
    for b in facts["bindings"]:
        token = facts["minted_tokens"].get(_key(b))
        if token is None or token.error:
            continue  # live.token-exchange says why
        bad, shown = claim_problems(token.claims, audience, issuer, time.time())
        skew = shown["iat_minus_local_seconds"]
        if bad:
            report.fail(f"{b.label}: the API server's token is wrong: {'; '.join(bad)}.",
                        expected={"iss": issuer, "aud": [audience],
                                  "lifetime_seconds": f"<= {MAX_ASSERTION_SECONDS}"},
                        actual=shown, fix=CLAIMS_FIX, commands=_reconcile(facts))
        elif abs(skew) > CLOCK_SKEW_WARN_SECONDS:
            report.warn(f"{b.label}: the token was issued {skew} s from this machine's clock: "
                        "a clock is off (Entra answers AADSTS700024 'not within its valid time "
                        "range' when a node's clock runs ahead).",
                        expected=f"|iat - now| <= {CLOCK_SKEW_WARN_SECONDS} s", actual=shown,
                        fix="Fix time synchronisation (NTP/chrony) on the nodes and on this "
                            "machine.")
        else:
            report.ok(f"{b.label}: iss={shown['iss']}, aud={shown['aud']}, lifetime "
                      f"{shown['lifetime_seconds']} s, issued {skew} s from local time.",
                      actual=shown)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


CLAIMS_FIX = ("The API server mints tokens Entra will refuse: reconcile the cluster's issuer "
              "settings (--service-account-issuer, --api-audiences, maximum token expiration), "
              "then restart the pods.")


def _reconcile(facts: Facts) -> list[str]:
    mc = (facts.get("aks") or {}).get("cluster")
    return [f"az aks update -g {resource_group_of(mc)} -n {mc.name}"] if mc is not None else []


@check("live.signing-key", "Token signing key published", layer="live",
       needs=("bindings", "minted_tokens", "issuer_documents"), live=True,
       failure_modes=(40,), docs=DOCS)
def signing_key(facts: Facts, report: Report) -> None:
    docs = facts["issuer_documents"]
    sample = next(((b, t) for b in facts["bindings"]
                   if (t := facts["minted_tokens"].get(_key(b))) and t.token), None)
    if sample is None:
        return
    b, token = sample
    kid = token.header.get("kid")
    if docs["problem"]:
        report.skip(f"The issuer's JWKS could not be read ({docs['problem']}); see "
                    "identity.issuer-documents.")
    elif kid in docs["kids"]:
        report.ok(f"Tokens are signed with key {kid}, which {docs['jwks_uri']} publishes "
                  f"(checked with {b.label}'s token).")
    else:
        # AADSTS7000272 "...key used to sign the federated credential could not be found in the
        # metadata of identity provider": Azure/azure-workload-identity#1232
        report.fail(f"Tokens are signed with key {kid!r}, which the issuer's JWKS "
                    f"({docs['jwks_uri']}) does not publish: Entra cannot find the key in the "
                    "issuer's metadata and answers AADSTS7000272 for every pod.",
                    expected=f"kid {kid!r} among the published keys",
                    actual=docs["kids"],
                    fix="Let AKS republish the issuer's keys; after 'az aks oidc-issuer "
                        "rotate-signing-keys' restart the pods, and rotate at most once a day.",
                    commands=_reconcile(facts))
