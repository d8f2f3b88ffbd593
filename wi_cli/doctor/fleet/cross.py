"""The cross-cluster step of a fleet run: gather, from what each context's run read, the
identities in use, their credentials and the tenants their service accounts claim; ask ARM which
AKS clusters exist in the subscriptions searched (only when some credential's issuer is not one
of the contexts' own) and fetch the discovery document of each issuer still unknown; then apply
the rules of :mod:`wi_cli.core.models.fleet`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Sequence

from ...core.errors import Unreadable, WiError
from ...core.models import Finding, Identity, Status, Target
from ...core.models.fleet import (
    FLEET_LAYER,
    STALE,
    Claim,
    FleetInputs,
    IssuerProbe,
    IssuerState,
    Trust,
    credential_pressure,
    issuers_to_probe,
    stale_trust,
    tenant_conflicts,
)

if TYPE_CHECKING:
    from . import ContextRun, FleetReads

PROBES_AT_ONCE = 8


def _webhook_tenant(webhook: Any) -> str | None:
    """The tenant the webhook injects when a service account names none (its config map)."""
    for backend in (getattr(webhook, "backends", None) or {}).values():
        cm = getattr(backend, "config_map", None)
        tenant = cm.data.get("AZURE_TENANT_ID") if cm is not None else None
        if tenant:
            return str(tenant)
    return None


def _names(identities: dict[str, Identity]) -> dict[str, str]:
    """How each identity is called in findings: its name, or rg/name when two share a name."""
    count: dict[str, int] = {}
    for ident in identities.values():
        count[ident.name.lower()] = count.get(ident.name.lower(), 0) + 1
    return {key: (ident.name if count[ident.name.lower()] == 1
                  else f"{ident.resource_group}/{ident.name}")
            for key, ident in identities.items()}


def gather(runs: Sequence["ContextRun"], reads: "FleetReads") -> FleetInputs:
    inputs = FleetInputs()
    identities: dict[str, Identity] = {}
    credentials: dict[str, list[Any]] = {}
    used: list[tuple[str, Any, str | None]] = []  # (context, binding, default tenant)
    for run in runs:
        if run.diagnosis is None:
            continue
        issuer = getattr(run.fact("cluster_issuer"), "url", None)
        if issuer:
            inputs.known_issuers.add(issuer)
        fics: dict[str, list[Any]] = run.fact("fics") or {}  # type: ignore[assignment]
        default_tenant = _webhook_tenant(run.fact("webhook"))
        for b in run.fact("bindings") or []:  # type: ignore[attr-defined]
            used.append((run.context, b, default_tenant))
            if b.identity is not None:
                identities[b.identity.id.key] = b.identity
                if b.identity.id.key in fics:
                    credentials[b.identity.id.key] = fics[b.identity.id.key]
    names = _names(identities)
    for context, b, default_tenant in used:
        ident = b.identity
        name = names[ident.id.key] if ident is not None else b.client_id
        inputs.claims.append(Claim(context, b.namespace, b.name, name, b.client_id,
                                   b.tenant_id or default_tenant,
                                   ident.tenant_id if ident is not None else None))
        if ident is not None and context not in inputs.contexts_of.setdefault(name, []):
            inputs.contexts_of[name].append(context)
    default = (reads.default_subscription or "").lower()
    for key, held in credentials.items():
        ident = identities[key]
        plain = names[key] == ident.name and ident.subscription.lower() == default
        ref = ident.name if plain else str(ident.id)
        inputs.trusts += [Trust(names[key], ref, c.name, c.issuer, c.subject) for c in held]
    return inputs


def probe(web: Any, issuer: str) -> IssuerProbe:
    """What Entra would find at the issuer: its discovery document, 404, or no such host."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        web.get_json(url)
    except Unreadable as exc:
        if exc.status == 404:
            return IssuerProbe(IssuerState.NOT_FOUND, f"{url}: HTTP 404")
        if exc.unresolved:
            return IssuerProbe(IssuerState.UNRESOLVED, f"{url}: the host name does not resolve")
        return IssuerProbe(IssuerState.UNREADABLE, f"{url}: {exc.message}")
    return IssuerProbe(IssuerState.ANSWERS, url)


def _aks_issuers(reads: "FleetReads") -> tuple[set[str], list[str]]:
    """The issuerURL of every AKS cluster in the subscriptions searched, and those searched."""
    if reads.arm is None:
        raise WiError("no Azure subscription is configured, so ARM's clusters cannot be listed",
                      ["Pass --subscription ID or set AZURE_SUBSCRIPTION_ID."])
    arm = reads.arm
    subscriptions = reads.subscriptions or arm.visible()
    with ThreadPoolExecutor(max_workers=max(1, min(PROBES_AT_ONCE, len(subscriptions)))) as pool:
        listed = list(pool.map(arm.clusters_in, subscriptions))
    return ({c.issuer_url for clusters in listed for c in clusters if c.issuer_url},
            list(subscriptions))


def cross_cluster_findings(runs: Sequence["ContextRun"],
                           reads: "FleetReads") -> tuple[list[Finding], list[str]]:
    inputs = gather(runs, reads)
    everywhere = ",".join(sorted(r.context for r in runs)) or None
    out: list[Finding] = []
    if issuers_to_probe(inputs.trusts, inputs.known_issuers):
        try:
            aks, inputs.subscriptions = _aks_issuers(reads)
        except WiError as exc:
            out.append(Finding(*STALE, FLEET_LAYER, Status.ERROR, f"Could not check: {exc.message}",
                               unreadable=True, target=Target(context=everywhere)))
        else:
            inputs.known_issuers |= aks
            wanted = issuers_to_probe(inputs.trusts, inputs.known_issuers)
            with ThreadPoolExecutor(max_workers=max(1, min(PROBES_AT_ONCE, len(wanted)))) as pool:
                inputs.probes = dict(zip(wanted, pool.map(lambda i: probe(reads.web, i), wanted)))
            out += stale_trust(inputs.trusts, inputs.known_issuers, inputs.probes,
                               inputs.subscriptions, inputs.contexts_of)
    else:
        out += stale_trust(inputs.trusts, inputs.known_issuers, {}, [], inputs.contexts_of)
    by_identity: dict[str, list[Trust]] = {}
    for t in inputs.trusts:
        by_identity.setdefault(t.identity, []).append(t)
    out += tenant_conflicts(inputs.claims) + credential_pressure(by_identity, inputs.contexts_of)
    return out, inputs.subscriptions
