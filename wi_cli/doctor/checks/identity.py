"""Doctor checks of the identity layer: does each service account's client id name a managed
identity, in a region with federated credentials, holding one credential Entra will match
exactly (issuer, subject, audience; case-sensitive), and does the cluster publish the issuer
documents Entra fetches to verify the token."""

from __future__ import annotations

import time
from typing import Any

from ...core.config import Settings
from ...core.models import (
    MAX_CREDENTIALS,
    PROPAGATION_WINDOW_SECONDS,
    FederatedCredential,
    Identity,
    ServiceAccount,
    age_text,
    expected_refusal,
    in_cluster_issuer,
)
from ...core.names import is_guid
from ..credentials import (
    bind_command,
    exact_fic,
    fic_view,
    mismatch,
    named_cluster,
    removal_command,
    wanted_fic,
)
from ..facts import Scope
from ..facts.cluster import AksRecord, Issuer, IssuerDocuments
from ..facts.identities import Binding
from ..facts.live import Exchange, fic_age
from ..facts.webhook import Audience
from ..facts.workloads import Key
from ..registry import Report, check
from ..targets import of_binding, of_identity

DOCS_FIC = ("https://learn.microsoft.com/entra/workload-id/"
            "workload-identity-federation-considerations")
DOCS_WI = "https://learn.microsoft.com/azure/aks/workload-identity-overview"
DOCS_ISSUER = "https://azure.github.io/azure-workload-identity/docs/troubleshooting.html"

FRESH_FIC_SECONDS = PROPAGATION_WINDOW_SECONDS  # Entra may not see a credential this young yet
FIC_UNSUPPORTED_REGIONS = {"malaysiasouth": "Malaysia South",
                           "newzealandnorth": "New Zealand North"}


def resolved(bindings: list[Binding]) -> list[Binding]:
    return [b for b in bindings if b.identity is not None]


def by_identity(bindings: list[Binding]) -> dict[str, tuple[Identity, list[Binding]]]:
    groups: dict[str, tuple[Identity, list[Binding]]] = {}
    for b in resolved(bindings):
        assert b.identity is not None
        groups.setdefault(b.identity.id.key, (b.identity, []))[1].append(b)
    return groups


def fics_of(fics: dict[str, list[FederatedCredential]], b: Binding) -> list[FederatedCredential]:
    return fics.get(b.identity.id.key, []) if b.identity is not None else []


# -- the client id --------------------------------------------------------------------------------

@check("identity.client-id", "Client id names a managed identity", layer="identity",
       failure_modes=(9,), docs=DOCS_WI)
def client_id_resolves(report: Report, azure_access: bool, bindings: list[Binding],
                       identities_by_principal_id: dict[str, Identity], scope: Scope,
                       settings: Settings,
                       exchanges: dict[Key, Exchange] | None = None,
                       aks: AksRecord | None = None) -> None:
    if not azure_access:
        report.skip("No Azure subscription is configured, so the identities cannot be looked "
                    "up: pass --subscription ID (or set AZURE_SUBSCRIPTION_ID).")
        return
    cluster = named_cluster(aks, scope)
    for b in bindings:
        ident = b.identity
        report = report.about(of_binding(b))
        if ident is not None:
            report.ok(f"{b.label}: client id {b.client_id} is identity {ident.name} "
                      f"(resource group {ident.resource_group}, {ident.location}).")
            continue
        owner = identities_by_principal_id.get(b.client_id.lower())
        if owner is not None:
            report.fail(f"{b.label}: {b.client_id} is the principalId (object id) of identity "
                        f"{owner.name}, not its clientId: Entra will answer AADSTS700016.",
                        expected=owner.client_id, actual=b.client_id,
                        fix=f"Annotate the service account with {owner.name}'s clientId, then "
                            "restart its pods.",
                        commands=[bind_command(b, owner, cluster)])
            continue
        _unknown_client_id(report, b, (exchanges or {}).get(b.key), cluster,
                           settings.subscription or "")


def _unknown_client_id(report: Report, b: Binding, outcome: Exchange | None,
                       cluster: Any, subscription: str) -> None:
    if not is_guid(b.client_id):
        report.skip(f"{b.label}: client id {b.client_id!r} is not a GUID (workload.client-id "
                    "says how to fix it).")
        return
    if outcome is not None and outcome.known_to_entra:
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
                          "table", bind_command(b, "IDENTITY", cluster)])


@check("identity.region", "Identity region supports federated credentials", layer="identity",
       failure_modes=(20,), docs=DOCS_FIC)
def identity_region(report: Report, bindings: list[Binding], scope: Scope,
                    aks: AksRecord | None = None) -> None:
    for ident, bs in by_identity(bindings).values():
        report = report.about(of_identity(ident))
        users = ", ".join(b.label for b in bs)
        region = ident.location.replace(" ", "").lower()
        if region not in FIC_UNSUPPORTED_REGIONS:
            report.ok(f"{ident.name} ({users}) is in {ident.location}.")
            continue
        report.fail(f"{ident.name} ({users}) is in {FIC_UNSUPPORTED_REGIONS[region]}, where "
                    "managed identities cannot hold federated credentials (ARM answers 405).",
                    expected="a region with federated credential support", actual=region,
                    fix="Create the identity in another region (it need not match the "
                        "cluster's), grant it the same roles, and bind the service account "
                        "to it.",
                    commands=[f"az identity create -g {ident.resource_group} -n "
                              f"{ident.name}-2 -l westeurope",
                              *(bind_command(b, f"{ident.name}-2", named_cluster(aks, scope))
                                for b in bs)])


@check("identity.fic-limit", "Room for federated credentials", layer="identity",
       failure_modes=(19,), docs=DOCS_FIC)
def fic_limit(report: Report, bindings: list[Binding],
              fics: dict[str, list[FederatedCredential]], cluster_issuer: Issuer,
              token_audience: Audience) -> None:
    issuer = cluster_issuer.url or ""
    for ident, bs in by_identity(bindings).values():
        report = report.about(of_identity(ident))
        held = fics.get(ident.id.key, [])
        needing = [b for b in bs
                   if exact_fic(held, wanted_fic(b, issuer, token_audience.audience)) is None]
        remove = [f"wi unbind SA {ident.name} -n NS --issuer ISSUER"]
        if len(held) < MAX_CREDENTIALS:
            report.ok(f"{ident.name}: {len(held)} of {MAX_CREDENTIALS} federated credentials "
                      "used.")
        elif not needing:
            report.warn(f"{ident.name}: {len(held)} of {MAX_CREDENTIALS} federated credentials "
                        "used: the identity is full, so the next 'wi bind' to it will be "
                        "refused.", expected=f"fewer than {MAX_CREDENTIALS}", actual=len(held),
                        fix="Bind new service accounts to another identity, or remove a "
                            "credential no longer used.", commands=remove)
        else:
            names = ", ".join(sorted(f.name for f in held))
            report.warn(f"{ident.name} already has {len(held)} federated credentials, the most "
                        f"Azure allows, and {', '.join(b.label for b in needing)} needs a new "
                        "one: creating it will be refused.",
                        expected=f"fewer than {MAX_CREDENTIALS}", actual=len(held),
                        fix=f"Delete a credential no longer used ({names}), or bind the service "
                            "account to another identity.", commands=remove)


# -- the credential -------------------------------------------------------------------------------

@check("identity.fic", "Federated credential matches the service account", layer="identity",
       failure_modes=(10, 12, 13, 14, 15), docs=DOCS_FIC)
def fic_matches(report: Report, bindings: list[Binding],
                fics: dict[str, list[FederatedCredential]], cluster_issuer: Issuer,
                token_audience: Audience, service_accounts_by_key: dict[Key, ServiceAccount],
                scope: Scope, aks: AksRecord | None = None) -> None:
    cluster = named_cluster(aks, scope)
    for b in resolved(bindings):
        report = report.about(of_binding(b))
        if not cluster_issuer.url:
            report.skip(f"{b.label}: the cluster's issuer is unknown (no AKS record, no "
                        "discovery document), so the credential cannot be compared.")
            continue
        if in_cluster_issuer(cluster_issuer.url):
            mc = aks.cluster if aks is not None else None
            report.fail(f"{b.label}: the cluster's tokens carry the in-cluster issuer "
                        f"{cluster_issuer.url}, which Entra cannot reach, so no federated "
                        "credential can match them (AADSTS70021).",
                        expected="a public OIDC issuer", actual=cluster_issuer.url,
                        fix="Turn the cluster's OIDC issuer on, then bind the service account "
                            "to the new issuer and restart its pods (a credential for the "
                            "in-cluster issuer never works).",
                        commands=[f"az aks update -g {mc.resource_group if mc else 'RG'} -n "
                                  f"{mc.name if mc else 'CLUSTER'} --enable-oidc-issuer",
                                  bind_command(b, cluster=cluster)])
            continue
        want = wanted_fic(b, cluster_issuer.url, token_audience.audience)
        held = fics_of(fics, b)
        found = exact_fic(held, want)
        name = b.identity.name if b.identity else b.client_id
        if found is not None:
            report.ok(f"{b.label}: credential {found.name} on {name} matches issuer, subject "
                      "and audience.")
        elif not held:
            report.fail(f"{b.label}: identity {name} has no federated credentials: Entra will "
                        "answer AADSTS70025.", expected=want, actual=[],
                        fix="Create the credential for this service account.",
                        commands=[bind_command(b, cluster=cluster)])
        else:
            _report_mismatch(report, b, held, want, cluster_issuer.source,
                             service_accounts_by_key, cluster)


def _report_mismatch(report: Report, b: Binding, held: list[FederatedCredential],
                     want: dict[str, Any], issuer_source: str | None,
                     service_accounts_by_key: dict[Key, ServiceAccount], cluster: Any) -> None:
    """No credential matches. The fix is always `wi bind`, which repairs the credential of this
    issuer+subject in place or creates one, and never changes another; a credential is named for
    removal only when it can never match any token (this service account's, written wrong)."""
    m = mismatch(b, held, want, issuer_source, service_accounts_by_key)
    code = expected_refusal(held, want["issuer"], want["subject"])
    summary = f"{b.label}: {m.cause}: Entra will answer {code}."
    commands = [bind_command(b, cluster=cluster)]
    if m.trust is not None:
        report.fail(summary, expected=want, actual=fic_view(m.trust),
                    fix=f"Set the audience of {m.trust.name} (wi bind repairs it in place and "
                        "keeps its name).", commands=commands)
    elif m.other_subjects or m.nearest is None:
        report.fail(summary, expected=want, actual=[fic_view(f) for f in held],
                    fix="Create the credential for this service account (wi bind does; the "
                        "credentials of other service accounts stay as they are).",
                    commands=commands)
    else:
        fix = "Create the credential with exactly these values (wi bind does; it changes no " \
              "other credential)"
        if m.stale:
            fix += (f", then remove {', '.join(f.name for f in m.stale)}, which can never match "
                    "a token of this cluster.")
            commands += [removal_command(b, f) for f in m.stale]
        else:
            fix += (f"; {m.nearest.name} is left as it is: it trusts another issuer or service "
                    "account that may still use it.")
        report.fail(summary, expected=want, actual=fic_view(m.nearest), fix=fix,
                    commands=commands)


@check("identity.fic-propagation", "Federated credential propagated", layer="identity",
       failure_modes=(17,), docs=DOCS_FIC)
def fic_propagation(report: Report, bindings: list[Binding],
                    fics: dict[str, list[FederatedCredential]], cluster_issuer: Issuer,
                    token_audience: Audience,
                    exchanges: dict[Key, Exchange] | None = None) -> None:
    issuer = cluster_issuer.url
    if not issuer:
        return
    now = time.time()
    for b in resolved(bindings):
        report = report.about(of_binding(b))
        found = exact_fic(fics_of(fics, b), wanted_fic(b, issuer, token_audience.audience))
        if found is None:
            continue
        age, changed = fic_age(found, now)
        outcome = (exchanges or {}).get(b.key)
        propagating = outcome.propagation if outcome is not None else None
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


# -- the issuer's documents -----------------------------------------------------------------------

@check("identity.issuer-documents", "Issuer documents reachable", layer="identity",
       failure_modes=(39,), docs=DOCS_ISSUER)
def issuer_documents_check(report: Report, issuer_documents: IssuerDocuments,
                           aks: AksRecord | None = None) -> None:
    docs = issuer_documents
    url = docs.url
    if not url:
        report.skip("The cluster's issuer is unknown (no AKS record, no discovery document).")
        return
    if docs.problem == "not public":
        report.skip(f"The cluster's tokens carry the in-cluster issuer {url}, which publishes "
                    "nothing (see cluster.oidc-issuer).")
        return
    fix, commands = issuer_fix(aks)
    if docs.problem:
        report.fail(f"Entra cannot verify this cluster's tokens: {docs.problem}. Every "
                    "exchange fails with AADSTS50166/90061.",
                    expected=f"{docs.discovery_url} and its jwks_uri served over HTTPS",
                    actual=docs.problem, fix=fix, commands=commands)
    elif docs.issuer != url:
        report.fail(f"The discovery document at {docs.discovery_url} names issuer "
                    f"{docs.issuer!r}, not {url!r}: Entra rejects the documents.",
                    expected=url, actual=docs.issuer, fix=fix, commands=commands)
    else:
        report.ok(f"{docs.discovery_url} and its JWKS ({len(docs.kids)} key(s)) are served.")


def issuer_fix(aks: AksRecord | None) -> tuple[str, list[str]]:
    mc = aks.cluster if aks is not None else None
    if mc is not None:
        return ("Let AKS reconcile and republish the issuer documents.",
                [f"az aks update -g {mc.resource_group} -n {mc.name}"])
    return ("Publish ISSUER/.well-known/openid-configuration and its JWKS at a public HTTPS "
            "address (e.g. a public blob container).", [])
