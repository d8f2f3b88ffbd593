"""Doctor checks of the identity layer: does each service account's client id name a managed
identity, in a region with federated credentials, holding one credential Entra will match
exactly (issuer, subject, audience; case-sensitive), and does the cluster publish the issuer
documents Entra fetches to verify the token."""

from __future__ import annotations

import json
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from ...core.cloud import ca_bundle
from ...core.models import (
    PROPAGATION_WINDOW_SECONDS,
    WI_TOKEN_VOLUMES,
    ServiceAccountRef,
    age_since,
    age_text,
    trust_for,
)
from ...core.names import WI_CLIENT_ID, WI_TENANT_ID, is_guid
from ..facts import Facts, fact
from ..registry import Report, check
from ..sources import audience_of, identity_by_client_id, pods_of, service_account

DOCS_FIC = ("https://learn.microsoft.com/entra/workload-id/"
            "workload-identity-federation-considerations")
DOCS_WI = "https://learn.microsoft.com/azure/aks/workload-identity-overview"
DOCS_ISSUER = "https://azure.github.io/azure-workload-identity/docs/troubleshooting.html"

FIC_LIMIT = 20
FRESH_FIC_SECONDS = PROPAGATION_WINDOW_SECONDS  # Entra may not see a credential this young yet
FIC_UNSUPPORTED_REGIONS = {"malaysiasouth": "Malaysia South",
                           "newzealandnorth": "New Zealand North"}
IN_CLUSTER_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_SA_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MAX_PROJECTED_SECONDS = 86400
FETCH_TIMEOUT_SECONDS = 10.0


# -- facts ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Binding:
    """A service account in scope that names an identity with its client-id annotation."""

    namespace: str
    name: str
    client_id: str
    tenant_id: str | None  # the tenant-id annotation, when set and non-empty
    identity: Any | None  # the user-assigned identity with that client id, if in the subscription

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


@fact("bindings")
def bindings(facts: Facts) -> list[Binding]:
    found = []
    for ns, name in facts["subjects"]:
        sa = service_account(facts, ns, name)
        annotations = (sa.metadata.annotations or {}) if sa is not None else {}
        client_id = (annotations.get(WI_CLIENT_ID) or "").strip()
        if not client_id:
            continue
        tenant = (annotations.get(WI_TENANT_ID) or "").strip() or None
        found.append(Binding(ns, name, client_id, tenant, identity_by_client_id(facts, client_id)))
    return found


@fact("cluster_issuer")
def cluster_issuer(facts: Facts) -> dict[str, str | None]:
    """The issuer tokens carry: AKS's issuerURL when it is on, else the API server's own."""
    mc = (facts.get("aks") or {}).get("cluster")
    profile = getattr(mc, "oidc_issuer_profile", None)
    if profile is not None and profile.enabled and profile.issuer_url:
        return {"url": profile.issuer_url, "source": f"AKS cluster {mc.name}"}
    url = facts.get("api_issuer")
    return {"url": url, "source": "the API server's discovery document" if url else None}


def _fetch_json(url: str) -> Any:
    """GET a JSON document over HTTPS, trusting the CA bundle the user configured."""
    bundle = ca_bundle(os.environ)
    ctx = ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()
    req = Request(url, headers={"Accept": "application/json", "User-Agent": "wi-cli"})
    with urlopen(req, context=ctx, timeout=FETCH_TIMEOUT_SECONDS) as resp:  # noqa: S310
        return json.loads(resp.read())


def _why_unreadable(exc: Exception) -> str:
    if isinstance(exc, HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, URLError):
        return str(exc.reason)
    if isinstance(exc, ValueError):
        return "not JSON"
    return f"{type(exc).__name__}: {exc}"


@fact("issuer_documents")
def issuer_documents(facts: Facts) -> dict[str, Any]:
    """What Entra sees at the issuer: {url, discovery_url, issuer, jwks_uri, kids, problem}."""
    url = facts["cluster_issuer"]["url"]
    out: dict[str, Any] = {"url": url, "discovery_url": None, "issuer": None, "jwks_uri": None,
                           "kids": [], "problem": None}
    if not url or url.rstrip("/") == IN_CLUSTER_ISSUER:
        out["problem"] = "not public"
        return out
    out["discovery_url"] = url.rstrip("/") + "/.well-known/openid-configuration"
    try:
        doc = _fetch_json(out["discovery_url"])
    except (OSError, ValueError) as exc:
        out["problem"] = f"{out['discovery_url']} could not be read ({_why_unreadable(exc)})"
        return out
    out["issuer"] = doc.get("issuer") if isinstance(doc, dict) else None
    out["jwks_uri"] = doc.get("jwks_uri") if isinstance(doc, dict) else None
    if not isinstance(out["jwks_uri"], str) or not out["jwks_uri"].startswith("https://"):
        out["problem"] = f"the discovery document has no https jwks_uri ({out['jwks_uri']!r})"
        return out
    try:
        keys = _fetch_json(out["jwks_uri"]).get("keys")
    except (OSError, ValueError, AttributeError) as exc:
        out["problem"] = f"the JWKS {out['jwks_uri']} could not be read ({_why_unreadable(exc)})"
        return out
    out["kids"] = [k.get("kid") for k in keys or [] if isinstance(k, dict)]
    if not out["kids"]:
        out["problem"] = f"the JWKS {out['jwks_uri']} holds no keys"
    return out


# -- comparing federated credentials --------------------------------------------------------------

def wanted_fic(b: Binding, issuer: str, audience: str) -> dict[str, Any]:
    return {"issuer": issuer, "subject": b.subject, "audiences": [audience]}


def fic_view(fic: Any) -> dict[str, Any]:
    return {"name": fic.name, "issuer": fic.issuer, "subject": fic.subject,
            "audiences": list(fic.audiences or [])}


def _differences(fic: Any, want: dict[str, Any]) -> list[str]:
    diff = []
    if fic.issuer != want["issuer"]:
        diff.append("issuer")
    if fic.subject != want["subject"]:
        diff.append("subject")
    if want["audiences"][0] not in (fic.audiences or []):
        diff.append("audience")
    return diff


def exact_fic(fics: list[Any], want: dict[str, Any]) -> Any | None:
    return next((f for f in fics if not _differences(f, want)), None)


def nearest_fic(fics: list[Any], want: dict[str, Any]) -> tuple[Any | None, list[str]]:
    """The credential that differs in the fewest fields (a same-subject one preferred)."""
    ranked = sorted(fics, key=lambda f: (len(_differences(f, want)),
                                         f.subject.lower() != want["subject"].lower(),
                                         f.name.lower()))
    if not ranked:
        return None, []
    return ranked[0], _differences(ranked[0], want)


def expected_aadsts(fics: list[Any], want: dict[str, Any]) -> str:
    """What Entra answers when no credential matches exactly: it matches issuer, then subject
    (a case-only difference is 7002138, Azure/login#515), then audience."""
    if not fics:
        return "AADSTS70025"
    same_issuer = [f for f in fics if f.issuer == want["issuer"]]
    if not same_issuer:
        return "AADSTS700211"
    same_subject = [f for f in same_issuer if f.subject == want["subject"]]
    if not same_subject:
        if any(f.subject.lower() == want["subject"].lower() for f in same_issuer):
            return "AADSTS7002138"
        return "AADSTS700213"
    return "AADSTS700212"


def describe_issuer(actual: str, expected: str) -> str:
    if actual.rstrip("/") == expected.rstrip("/"):
        return ("lacks the trailing '/' the cluster's issuer has" if expected.endswith("/")
                else "has a trailing '/' the cluster's issuer lacks")
    if actual.lower() == expected.lower():
        return "differs from the cluster's issuer only in case (the match is case-sensitive)"
    if actual.rstrip("/") == IN_CLUSTER_ISSUER:
        return "is the in-cluster issuer, which Entra cannot verify"
    return "is another issuer: another cluster's, or this cluster before it was re-created"


def describe_subject(actual: str, expected: str) -> str:
    if actual.lower() == expected.lower():
        return f"differs only in case from {expected} (the match is case-sensitive)"
    parts, want = actual.split(":"), expected.split(":")
    if len(parts) == 4 and parts[:2] == want[:2]:
        if parts[2] != want[2] and parts[3] == want[3]:
            return f"names namespace {parts[2]!r} instead of {want[2]!r}"
        if parts[2] == want[2] and parts[3] != want[3]:
            return f"names service account {parts[3]!r} instead of {want[3]!r}"
    return f"is {actual}, not {expected}"


@dataclass
class Mismatch:
    """Why no credential matches a service account, as identity.fic and the live check say it."""

    cause: str
    trust: Any | None = None  # the credential of this issuer+subject (only its audience is off)
    nearest: Any | None = None
    stale: list[Any] = field(default_factory=list)  # this SA's credentials that never match
    other_subjects: bool = False  # every credential trusts another service account


def mismatch(facts: Facts, b: Binding, fics: list[Any], want: dict[str, Any],
             issuer_source: str | None) -> Mismatch:
    ident = b.identity
    if not fics:
        return Mismatch(f"identity {ident.name} has no federated credentials")
    trust = trust_for(fics, want["issuer"], want["subject"])
    if trust is not None:
        return Mismatch(f"credential {trust.name} on {ident.name} does not match: its audiences "
                        f"{list(trust.audiences or [])} lack {want['audiences'][0]}", trust=trust,
                        nearest=trust)
    stale = [f for f in fics if _never_matches(f, want)]
    nearest, diff = nearest_fic(stale or fics, want)
    if "subject" in diff and nearest not in stale and (
            len(diff) > 1 or _serves_existing_sa(facts, nearest.subject)):
        others = ", ".join(sorted({f.subject for f in fics}))
        return Mismatch(f"{ident.name} has no federated credential for this service account "
                        f"(its {len(fics)} credential(s) are for {others})", nearest=nearest,
                        other_subjects=True)
    what = []
    if "issuer" in diff:
        source = f" (the cluster's issuer is from {issuer_source})" if issuer_source else ""
        what.append(f"its issuer {describe_issuer(nearest.issuer, want['issuer'])}{source}")
    if "subject" in diff:
        what.append(f"its subject {describe_subject(nearest.subject, want['subject'])}")
    if "audience" in diff:
        what.append(f"its audiences {list(nearest.audiences or [])} lack {want['audiences'][0]}")
    return Mismatch(f"credential {nearest.name} on {ident.name} does not match: "
                    f"{'; '.join(what)}", nearest=nearest, stale=stale)


def mismatch_cause(facts: Facts, b: Binding, fics: list[Any], want: dict[str, Any],
                   issuer_source: str | None) -> str:
    return mismatch(facts, b, fics, want, issuer_source).cause


def fic_age(fic: Any, now: float) -> tuple[float | None, bool]:
    """Seconds since the credential was created or last changed (None when ARM did not say:
    systemData is optional), and whether that was a change."""
    system = getattr(fic, "system_data", None)
    return age_since(getattr(system, "created_at", None),
                     getattr(system, "last_modified_at", None), now)


def identity_age(ident: Any, now: float) -> float | None:
    system = getattr(ident, "system_data", None)
    return age_since(getattr(system, "created_at", None), None, now)[0]


# -- commands in fixes ----------------------------------------------------------------------------

def principal_owner(facts: Facts, principal_id: str) -> Any | None:
    """The identity whose principalId (object id) this is."""
    return next((i for i in facts["identities"]
                 if (i.principal_id or "").lower() == principal_id.lower()), None)


def bind_command(facts: Facts, b: Binding, identity_name: str | None = None) -> str:
    """The `wi bind` that makes this service account's link right (IDENTITY when unknown)."""
    if identity_name is None:
        ident = b.identity or principal_owner(facts, b.client_id)
        identity_name = ident.name if ident is not None else "IDENTITY"
    cmd = f"wi bind {b.name} {identity_name} -n {b.namespace}"
    mc = (facts.get("aks") or {}).get("cluster")
    if mc is not None and facts.scope.cluster:
        cmd += f" --cluster {mc.name} -g {mc.id.split('/')[4]}"
    return cmd


def annotate_command(b: Binding, client_id: str) -> str:
    return (f"kubectl annotate serviceaccount {b.name} -n {b.namespace} "
            f"{WI_CLIENT_ID}={client_id} --overwrite")


def resource_group_of(resource: Any) -> str:
    return resource.id.split("/")[4]


def fics_of(facts: Facts, b: Binding) -> list[Any]:
    return facts["fics"].get(b.identity.id.lower(), [])


def resolved(facts: Facts) -> list[Binding]:
    return [b for b in facts["bindings"] if b.identity is not None]


def by_identity(bs: list[Binding]) -> dict[str, tuple[Any, list[Binding]]]:
    groups: dict[str, tuple[Any, list[Binding]]] = {}
    for b in bs:
        groups.setdefault(b.identity.id.lower(), (b.identity, []))[1].append(b)
    return groups


# -- checks ---------------------------------------------------------------------------------------

@check("identity.client-id", "Client id names a managed identity", layer="identity",
       needs=("bindings", "identities", "exchanges"), failure_modes=(9,), docs=DOCS_WI)
def client_id_resolves(facts: Facts, report: Report) -> None:
    if facts.ctx.azure is None:
        report.skip("No Azure subscription is configured, so the identities cannot be looked "
                    "up: pass --subscription ID (or set AZURE_SUBSCRIPTION_ID).")
        return
    subscription = facts.ctx.azure.subscription_id
    for b in facts["bindings"]:
        ident = b.identity
        if ident is not None:
            report.ok(f"{b.label}: client id {b.client_id} is identity {ident.name} "
                      f"(resource group {resource_group_of(ident)}, {ident.location}).")
            continue
        owner = principal_owner(facts, b.client_id)
        if owner is not None:
            report.fail(f"{b.label}: {b.client_id} is the principalId (object id) of identity "
                        f"{owner.name}, not its clientId: Entra will answer AADSTS700016.",
                        expected=owner.client_id, actual=b.client_id,
                        fix=f"Annotate the service account with {owner.name}'s clientId, then "
                            "restart its pods.",
                        commands=[bind_command(facts, b, owner.name)])
            continue
        _unknown_client_id(facts, report, b, subscription)


def _unknown_client_id(facts: Facts, report: Report, b: Binding, subscription: str) -> None:
    if not is_guid(b.client_id):
        report.skip(f"{b.label}: client id {b.client_id!r} is not a GUID (workload.client-id "
                    "says how to fix it).")
        return
    outcome = facts["exchanges"].get((b.namespace, b.name))
    if outcome is not None and outcome.code not in (None, "AADSTS700016", "AADSTS90002"):
        report.warn(f"{b.label}: {b.client_id} is no user-assigned identity in subscription "
                    f"{subscription}, but Entra knows it (it answered {outcome.code or 'ok'}): "
                    "an app registration or an identity elsewhere; doctor cannot read its "
                    "federated credentials or roles.",
                    fix="To have them checked, rerun with --subscription set to the identity's "
                        "subscription.")
        return
    report.fail(f"{b.label}: client id {b.client_id} matches no user-assigned identity in "
                f"subscription {subscription}: Entra will answer AADSTS700016 (a deleted "
                "identity, a typo, or another tenant's id).",
                expected="the clientId of a user-assigned identity", actual=b.client_id,
                fix="Annotate the service account with the identity's clientId (wi bind does). "
                    "If the identity lives in another subscription, rerun with --subscription.",
                commands=["az identity list --query \"[].{name:name, clientId:clientId}\" -o "
                          "table", bind_command(facts, b, "IDENTITY")])


@check("identity.region", "Identity region supports federated credentials", layer="identity",
       needs=("bindings",), failure_modes=(20,), docs=DOCS_FIC)
def identity_region(facts: Facts, report: Report) -> None:
    for ident, bs in by_identity(resolved(facts)).values():
        users = ", ".join(b.label for b in bs)
        region = (ident.location or "").replace(" ", "").lower()
        if region not in FIC_UNSUPPORTED_REGIONS:
            report.ok(f"{ident.name} ({users}) is in {ident.location}.")
            continue
        report.fail(f"{ident.name} ({users}) is in {FIC_UNSUPPORTED_REGIONS[region]}, where "
                    "managed identities cannot hold federated credentials (ARM answers 405).",
                    expected="a region with federated credential support", actual=region,
                    fix="Create the identity in another region (it need not match the "
                        "cluster's), grant it the same roles, and bind the service account "
                        "to it.",
                    commands=[f"az identity create -g {resource_group_of(ident)} -n "
                              f"{ident.name}-2 -l westeurope",
                              *(bind_command(facts, b, f"{ident.name}-2") for b in bs)])


@check("identity.fic-limit", "Room for federated credentials", layer="identity",
       needs=("bindings", "fics", "cluster_issuer", "token_audience"), failure_modes=(19,), docs=DOCS_FIC)
def fic_limit(facts: Facts, report: Report) -> None:
    issuer = facts["cluster_issuer"]["url"] or ""
    audience = audience_of(facts)
    for ident, bs in by_identity(resolved(facts)).values():
        fics = facts["fics"].get(ident.id.lower(), [])
        needing = [b for b in bs if exact_fic(fics, wanted_fic(b, issuer, audience)) is None]
        if len(fics) < FIC_LIMIT:
            report.ok(f"{ident.name}: {len(fics)} of {FIC_LIMIT} federated credentials used.")
        elif not needing:
            report.warn(f"{ident.name}: {len(fics)} of {FIC_LIMIT} federated credentials used: "
                        "the identity is full, so the next 'wi bind' to it will be refused.",
                        expected=f"fewer than {FIC_LIMIT}", actual=len(fics),
                        fix="Bind new service accounts to another identity, or remove a "
                            "credential no longer used.",
                        commands=[f"wi unbind SA {ident.name} -n NS --issuer ISSUER"])
        else:
            names = ", ".join(sorted(f.name for f in fics))
            report.warn(f"{ident.name} already has {len(fics)} federated credentials, the most "
                        f"Azure allows, and {', '.join(b.label for b in needing)} needs a new "
                        "one: creating it will be refused.",
                        expected=f"fewer than {FIC_LIMIT}", actual=len(fics),
                        fix=f"Delete a credential no longer used ({names}), or bind the service "
                            "account to another identity.",
                        commands=[f"wi unbind SA {ident.name} -n NS --issuer ISSUER"])


@check("identity.fic", "Federated credential matches the service account", layer="identity",
       needs=("bindings", "fics", "cluster_issuer", "service_accounts", "token_audience"),
       failure_modes=(10, 12, 14, 15),
       docs=DOCS_FIC)
def fic_matches(facts: Facts, report: Report) -> None:
    issuer_fact = facts["cluster_issuer"]
    audience = audience_of(facts)
    for b in resolved(facts):
        if not issuer_fact["url"]:
            report.skip(f"{b.label}: the cluster's issuer is unknown (no AKS record, no "
                        "discovery document), so the credential cannot be compared.")
            continue
        want = wanted_fic(b, issuer_fact["url"], audience)
        fics = fics_of(facts, b)
        found = exact_fic(fics, want)
        if found is not None:
            report.ok(f"{b.label}: credential {found.name} on {b.identity.name} matches "
                      f"issuer, subject and audience.")
        elif not fics:
            report.fail(f"{b.label}: identity {b.identity.name} has no federated credentials: "
                        "Entra will answer AADSTS70025.", expected=want, actual=[],
                        fix="Create the credential for this service account.",
                        commands=[bind_command(facts, b)])
        else:
            _report_mismatch(facts, report, b, fics, want, issuer_fact["source"])


def _report_mismatch(facts: Facts, report: Report, b: Binding, fics: list[Any],
                     want: dict[str, Any], issuer_source: str | None) -> None:
    """No credential matches. The fix is always `wi bind`, which repairs the credential of this
    issuer+subject in place or creates one, and never changes another; a credential is named for
    removal only when it can never match any token (this service account's, written wrong)."""
    m = mismatch(facts, b, fics, want, issuer_source)
    summary = f"{b.label}: {m.cause}: Entra will answer {expected_aadsts(fics, want)}."
    commands = [bind_command(facts, b)]
    if m.trust is not None:
        report.fail(summary, expected=want, actual=fic_view(m.trust),
                    fix=f"Set the audience of {m.trust.name} (wi bind repairs it in place and "
                        "keeps its name).", commands=commands)
    elif m.other_subjects:
        report.fail(summary, expected=want, actual=[fic_view(f) for f in fics],
                    fix="Create the credential for this service account (wi bind does; the "
                        "credentials of other service accounts stay as they are).",
                    commands=commands)
    else:
        fix = "Create the credential with exactly these values (wi bind does; it changes no " \
              "other credential)"
        if m.stale:
            fix += (f", then remove {', '.join(f.name for f in m.stale)}, which can never match "
                    "a token of this cluster.")
            commands += [_removal_command(b, f) for f in m.stale]
        else:
            fix += (f"; {m.nearest.name} is left as it is: it trusts another issuer or service "
                    "account that may still use it.")
        report.fail(summary, expected=want, actual=fic_view(m.nearest), fix=fix,
                    commands=commands)


def _never_matches(fic: Any, want: dict[str, Any]) -> bool:
    """This service account's credential written wrong: its issuer is this cluster's with a
    trailing-slash or case slip, or the in-cluster issuer Entra cannot verify; or its subject
    differs only in case (Kubernetes names are lower-case). A credential for another cluster's
    issuer or another subject may still be in use there and is never one of these."""
    if fic.subject == want["subject"]:
        return fic.issuer != want["issuer"] and (
            fic.issuer.rstrip("/").lower() == want["issuer"].rstrip("/").lower()
            or fic.issuer.rstrip("/") == IN_CLUSTER_ISSUER)
    return fic.issuer == want["issuer"] and fic.subject.lower() == want["subject"].lower()


def _removal_command(b: Binding, fic: Any) -> str:
    ident = b.identity
    if fic.subject == b.subject:  # another issuer: wi unbind removes exactly that trust
        return f"wi unbind {b.name} {ident.name} -n {b.namespace} --issuer {fic.issuer}"
    return (f"az identity federated-credential delete -g {resource_group_of(ident)} "
            f"--identity-name {ident.name} -n {fic.name} --yes")


def _serves_existing_sa(facts: Facts, subject: str) -> bool:
    ref = ServiceAccountRef.from_subject(subject)
    return ref is not None and service_account(facts, ref.namespace, ref.name) is not None


@check("identity.fic-propagation", "Federated credential propagated", layer="identity",
       needs=("bindings", "fics", "cluster_issuer", "exchanges", "token_audience"),
       failure_modes=(17,),
       docs=DOCS_FIC)
def fic_propagation(facts: Facts, report: Report) -> None:
    issuer = facts["cluster_issuer"]["url"]
    if not issuer:
        return
    now = time.time()
    for b in resolved(facts):
        found = exact_fic(fics_of(facts, b), wanted_fic(b, issuer, audience_of(facts)))
        if found is None:
            continue
        age, changed = fic_age(found, now)
        outcome = facts["exchanges"].get((b.namespace, b.name))
        propagating = getattr(outcome, "propagation", None)
        verb = "changed" if changed else "created"
        when = f"{verb} {age_text(age)} ago" if age is not None else "age unknown"
        if outcome is not None and outcome.ok:
            report.ok(f"{b.label}: credential {found.name} ({when}) is accepted by Entra.")
        elif propagating is not None:
            report.warn(f"{b.label}: credential {found.name} ({when}) is not seen by Entra yet: "
                        f"it answered {propagating.code} while the new credential propagates "
                        "(Entra takes a few minutes).",
                        expected=f"older than {FRESH_FIC_SECONDS // 60} minutes", actual=when,
                        fix="Nothing to change: re-run in a few minutes (SDKs in the pods retry "
                            "on their own).")
        elif age is None or age >= FRESH_FIC_SECONDS or outcome is not None:
            report.ok(f"{b.label}: credential {found.name} ({when}).")
        else:
            report.warn(f"{b.label}: credential {found.name} was {when}; for a few minutes "
                        "Entra may not see it yet and refuse the exchange (AADSTS70025, 700211 "
                        "or 700213) while it propagates.",
                        expected=f"older than {FRESH_FIC_SECONDS // 60} minutes", actual=when,
                        fix="Nothing to change: if pods are refused, re-run in a few minutes "
                            "(SDKs retry on their own).")


@check("identity.issuer-documents", "Issuer documents reachable", layer="identity",
       needs=("cluster_issuer", "issuer_documents", "aks"), failure_modes=(39,),
       docs=DOCS_ISSUER)
def issuer_documents_check(facts: Facts, report: Report) -> None:
    docs = facts["issuer_documents"]
    url = docs["url"]
    if not url:
        report.skip("The cluster's issuer is unknown (no AKS record, no discovery document).")
        return
    if docs["problem"] == "not public":
        report.skip(f"The cluster's tokens carry the in-cluster issuer {url}, which publishes "
                    "nothing (see cluster.oidc-issuer).")
        return
    fix, commands = _issuer_fix(facts)
    if docs["problem"]:
        report.fail(f"Entra cannot verify this cluster's tokens: {docs['problem']}. Every "
                    "exchange fails with AADSTS50166/90061.",
                    expected=f"{docs['discovery_url']} and its jwks_uri served over HTTPS",
                    actual=docs["problem"], fix=fix, commands=commands)
    elif docs["issuer"] != url:
        report.fail(f"The discovery document at {docs['discovery_url']} names issuer "
                    f"{docs['issuer']!r}, not {url!r}: Entra rejects the documents.",
                    expected=url, actual=docs["issuer"], fix=fix, commands=commands)
    else:
        report.ok(f"{docs['discovery_url']} and its JWKS ({len(docs['kids'])} key(s)) are "
                  "served.")


def _issuer_fix(facts: Facts) -> tuple[str, list[str]]:
    mc = (facts.get("aks") or {}).get("cluster")
    if mc is not None:
        return ("Let AKS reconcile and republish the issuer documents.",
                [f"az aks update -g {resource_group_of(mc)} -n {mc.name}"])
    return ("Publish ISSUER/.well-known/openid-configuration and its JWKS at a public HTTPS "
            "address (e.g. a public blob container).", [])


# -- the token pods present -----------------------------------------------------------------------

@check("identity.token-source", "Pods present the projected token", layer="identity",
       needs=("subjects", "pods", "token_audience"), failure_modes=(16,), docs=DOCS_WI)
def token_source(facts: Facts, report: Report) -> None:
    audience = audience_of(facts)
    for ns, name in facts["subjects"]:
        for pod in pods_of(facts, ns, name):
            problems = pod_token_problems(pod, audience)
            label = f"{ns}/{pod.metadata.name} (service account {name})"
            if not problems:
                report.ok(f"{label}: the workload-identity token is projected with a valid "
                          "lifetime and audience.")
                continue
            report.fail(f"{label}: {'; '.join(problems)}. Entra will answer AADSTS70023 "
                        "(lifetime) or AADSTS700212 (audience).",
                        expected={"token": "$AZURE_FEDERATED_TOKEN_FILE (projected)",
                                  "expirationSeconds": f"<= {MAX_PROJECTED_SECONDS}",
                                  "audience": audience},
                        actual=problems,
                        fix="Read the token from $AZURE_FEDERATED_TOKEN_FILE as the webhook sets "
                            "it (WorkloadIdentityCredential does), keep "
                            "azure.workload.identity/service-account-token-expiration within "
                            "3600-86400, then restart the pod.",
                        commands=[f"kubectl delete pod {pod.metadata.name} -n {ns}"])


def pod_token_problems(pod: Any, audience: str) -> list[str]:
    problems = []
    for vol in pod.spec.volumes or []:
        if not vol.projected or not _is_wi_volume(vol.name, pod):
            continue
        for src in vol.projected.sources or []:
            token = src.service_account_token
            if token is None:
                continue
            if (token.expiration_seconds or 3600) > MAX_PROJECTED_SECONDS:
                problems.append(f"volume {vol.name} asks for tokens living "
                                f"{token.expiration_seconds} s (more than 1 day)")
            if token.audience != audience:
                problems.append(f"volume {vol.name} asks for audience {token.audience!r}")
    for c in [*(pod.spec.init_containers or []), *(pod.spec.containers or [])]:
        problems.extend(_default_token_reads(c))
    return problems


def _is_wi_volume(name: str, pod: Any) -> bool:
    if name == WI_TOKEN_VOLUMES[0] or name.startswith(WI_TOKEN_VOLUMES[1]):
        return True
    token_file = next((e.value for c in pod.spec.containers or [] for e in c.env or []
                       if e.name == "AZURE_FEDERATED_TOKEN_FILE" and e.value), None)
    if not token_file:
        return False
    return any(token_file.startswith(m.mount_path.rstrip("/") + "/")
               for c in pod.spec.containers or [] for m in c.volume_mounts or []
               if m.name == name)


def _default_token_reads(container: Any) -> list[str]:
    found = []
    for e in container.env or []:
        if e.value and DEFAULT_SA_TOKEN_PATH in e.value and (
                e.name == "AZURE_FEDERATED_TOKEN_FILE" or "AZURE" in e.name.upper()):
            found.append(f"container {container.name} sets {e.name}={e.value}: the default "
                         "service-account token (long-lived on AKS, audience = the API server)")
    for arg in [*(container.command or []), *(container.args or [])]:
        if DEFAULT_SA_TOKEN_PATH in arg and "federated" in arg.lower():
            found.append(f"container {container.name} passes the default service-account "
                         "token as the federated token")
            break
    return found
