"""Doctor checks of the live layer: the claims of a token the API server mints for each service
account (TokenRequest, no pod needed), and that token exchanged at Entra exactly as a pod's SDK
would. Tokens stay in memory: findings carry decoded claims only, never a token."""

from __future__ import annotations

import time
from typing import Any

from ...core.aadsts import explanation
from ...core.models import (
    PROPAGATION_CODES,
    FederatedCredential,
    Propagation,
    ServiceAccount,
    age_text,
    expected_refusal,
)
from ..credentials import bind_command, exact_fic, mismatch, named_cluster, wanted_fic
from ..facts import Scope
from ..facts.cluster import AksRecord, Issuer, IssuerDocuments
from ..facts.identities import Binding
from ..facts.live import NO_TENANT, Exchange, Minted, fic_age
from ..facts.webhook import Audience
from ..facts.workloads import Key
from ..registry import Report, check
from ..targets import of_binding

DOCS = "https://learn.microsoft.com/azure/aks/workload-identity-overview"
MAX_ASSERTION_SECONDS = 86400
CLOCK_SKEW_WARN_SECONDS = 300


def _when(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


class Known:
    """What ARM showed about a binding's credentials (for naming causes), if it could be read."""

    def __init__(self, b: Binding, fics: dict[str, list[FederatedCredential]] | None,
                 cluster_issuer: Issuer | None, token_audience: Audience,
                 service_accounts_by_key: dict[Key, ServiceAccount]) -> None:
        self.ok = bool(b.identity is not None and fics is not None and cluster_issuer
                       and cluster_issuer.url)
        self.fics = (fics or {}).get(b.identity.id.key, []) if b.identity else []
        self.want = (wanted_fic(b, cluster_issuer.url, token_audience.audience)
                     if self.ok and cluster_issuer and cluster_issuer.url else {})
        self.issuer_source = cluster_issuer.source if cluster_issuer else None
        self.service_accounts_by_key = service_accounts_by_key


# -- checks ---------------------------------------------------------------------------------------

@check("live.token-exchange", "Token exchange at Entra", layer="live", live=True,
       failure_modes=(9, 10, 11, 12, 13, 14, 15, 16, 17, 39, 40), docs=DOCS)
def token_exchange(report: Report, bindings: list[Binding], minted_tokens: dict[Key, Minted],
                   exchanges: dict[Key, Exchange], token_audience: Audience, scope: Scope,
                   service_accounts_by_key: dict[Key, ServiceAccount],
                   fics: dict[str, list[FederatedCredential]] | None = None,
                   cluster_issuer: Issuer | None = None, aks: AksRecord | None = None) -> None:
    for b in bindings:
        report = report.about(of_binding(b))
        token = minted_tokens.get(b.key)
        if token is None or token.error:
            report.fail(f"{b.label}: the API server would not mint a token for it: "
                        f"{token.error if token else 'no answer'}",
                        fix="Let your user create serviceaccounts/token (TokenRequest) in this "
                            "namespace, or check the service account exists.",
                        commands=[f"kubectl auth can-i create serviceaccounts/token -n "
                                  f"{b.namespace}"])
            continue
        outcome = exchanges[b.key]
        if outcome.tenant_id is None and outcome.message == NO_TENANT:
            report.skip(f"{b.label}: not exchanged: {NO_TENANT}. Set AZURE_TENANT_ID (the "
                        "identity's tenant) for doctor, or annotate the service account with "
                        "azure.workload.identity/tenant-id.")
            continue
        if outcome.ok:
            _report_success(report, b, outcome)
        else:
            known = Known(b, fics, cluster_issuer, token_audience, service_accounts_by_key)
            _report_refusal(report, b, outcome, known, named_cluster(aks, scope))


def _report_success(report: Report, b: Binding, outcome: Exchange) -> None:
    c = outcome.claims or {}
    appid = c.get("appid") or c.get("azp")
    waited = (f" after waiting {outcome.waited:g} s for the new credential to propagate"
              if outcome.waited else "")
    report.ok(f"{b.label}: Entra issued an ARM access token for it{waited} (appid={appid}, "
              f"oid={c.get('oid')}, tid={c.get('tid')}, aud={c.get('aud')}, "
              f"expires {_when(c.get('exp'))}).",
              expected={"appid": b.client_id, "tid": outcome.tenant_id}, actual=c)


def _report_refusal(report: Report, b: Binding, outcome: Exchange, known: Known,
                    cluster: Any) -> None:
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
    matching = _matching_cause(b, found.code, known)
    if matching is not None:
        cause, fix = matching
        report.fail(f"{b.label}: Entra refused the exchange with {found.code}{waited}: "
                    f"{cause}.", expected="an access token", actual=outcome.message, fix=fix,
                    commands=[])
        return
    command = bind_command(b, cluster=cluster)
    fix = found.fix.replace("wi bind SA IDENTITY -n NS", command)
    named = _mismatch(b, found.code, known)
    cause = f"{named}." if named else found.cause
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


def _mismatch(b: Binding, code: str, known: Known) -> str | None:
    """The same cause identity.fic names for this setup, when Entra's code is a matching code
    and no credential matches exactly."""
    if code not in PROPAGATION_CODES or not known.ok:
        return None
    want = known.want
    if exact_fic(known.fics, want) is not None or \
            expected_refusal(known.fics, want["issuer"], want["subject"]) != code:
        return None
    return mismatch(b, known.fics, want, known.issuer_source,
                    known.service_accounts_by_key).cause


def _matching_cause(b: Binding, code: str, known: Known) -> tuple[str, str] | None:
    """A matching code although a credential matches exactly and is past the propagation
    window: never advise re-creating it."""
    if code not in PROPAGATION_CODES or not known.ok:
        return None
    found = exact_fic(known.fics, known.want)
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


@check("live.token-claims", "Service-account token claims", layer="live", live=True,
       failure_modes=(12, 13, 16, 28), docs=DOCS)
def token_claims(report: Report, bindings: list[Binding], minted_tokens: dict[Key, Minted],
                 cluster_issuer: Issuer, token_audience: Audience,
                 aks: AksRecord | None = None) -> None:
    audience = token_audience.audience
    issuer = cluster_issuer.url
    for b in bindings:
        report = report.about(of_binding(b))
        token = minted_tokens.get(b.key)
        if token is None or token.error:
            continue  # live.token-exchange says why
        bad, shown = claim_problems(token.claims, audience, issuer, time.time())
        skew = shown["iat_minus_local_seconds"]
        if bad:
            report.fail(f"{b.label}: the API server's token is wrong: {'; '.join(bad)}.",
                        expected={"iss": issuer, "aud": [audience],
                                  "lifetime_seconds": f"<= {MAX_ASSERTION_SECONDS}"},
                        actual=shown, fix=CLAIMS_FIX, commands=_reconcile(aks))
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


def _reconcile(aks: AksRecord | None) -> list[str]:
    mc = aks.cluster if aks is not None else None
    return [f"az aks update -g {mc.resource_group} -n {mc.name}"] if mc is not None else []


@check("live.signing-key", "Token signing key published", layer="live", live=True,
       failure_modes=(40,), docs=DOCS)
def signing_key(report: Report, bindings: list[Binding], minted_tokens: dict[Key, Minted],
                issuer_documents: IssuerDocuments, aks: AksRecord | None = None) -> None:
    docs = issuer_documents
    sample = next(((b, t) for b in bindings if (t := minted_tokens.get(b.key)) and t.token),
                  None)
    if sample is None:
        return
    b, token = sample
    kid = token.header.get("kid")
    if docs.problem:
        report.skip(f"The issuer's JWKS could not be read ({docs.problem}); see "
                    "identity.issuer-documents.")
    elif kid in docs.kids:
        report.ok(f"Tokens are signed with key {kid}, which {docs.jwks_uri} publishes "
                  f"(checked with {b.label}'s token).")
    else:
        # AADSTS7000272 "...key used to sign the federated credential could not be found in the
        # metadata of identity provider": Azure/azure-workload-identity#1232
        report.fail(f"Tokens are signed with key {kid!r}, which the issuer's JWKS "
                    f"({docs.jwks_uri}) does not publish: Entra cannot find the key in the "
                    "issuer's metadata and answers AADSTS7000272 for every pod.",
                    expected=f"kid {kid!r} among the published keys",
                    actual=list(docs.kids),
                    fix="Let AKS republish the issuer's keys; after 'az aks oidc-issuer "
                        "rotate-signing-keys' restart the pods, and rotate at most once a day.",
                    commands=_reconcile(aks))
