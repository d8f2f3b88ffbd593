"""Rules over a fleet of clusters (``wi doctor --contexts/--all-contexts``), on plain values.

Each context's run is summed up (:func:`summarize`); the cross-cluster findings are what no
single cluster's run can see, and live in a layer of their own (``fleet``):

* stale trust: a credential for a Kubernetes service account whose issuer is the ``issuerURL``
  of no AKS cluster ARM lists in the subscriptions searched, nor of a context examined, AND whose
  discovery document answers 404 or whose host does not resolve: the cluster was deleted or
  recreated (AKS deletes the issuer's documents with the cluster). Any other issuer not known
  (GitHub Actions, another cloud's cluster, a subscription not searched) is information, never a
  fix. Staleness is never decided from which contexts were given.
* tenant conflict: service accounts of two clusters claim one identity with different tenants.
* credential pressure: an identity near the 20-credential limit because many clusters trust it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Mapping, Sequence

from ..names import is_guid
from .azure import MAX_CREDENTIALS
from .findings import Finding, Remediation, Evidence, Status, Target

FLEET_LAYER = "fleet"
SA_SUBJECT = "system:serviceaccount:"
PRESSURE_FROM = 16  # of MAX_CREDENTIALS: room for a few more clusters, not for a region
TENANT_ANNOTATION = "azure.workload.identity/tenant-id"
# issuers of other federations an identity commonly trusts (Entra's "workload identity
# federation" docs: GitHub Actions, Azure DevOps service connections, other IdPs and clouds)
WELL_KNOWN_ISSUERS = (
    ("https://token.actions.githubusercontent.com", "GitHub Actions"),
    ("https://vstoken.dev.azure.com/", "Azure DevOps"),
    ("https://gitlab.com", "GitLab CI"),
    ("https://app.terraform.io", "HCP Terraform"),
    ("https://accounts.google.com", "Google"),
    ("https://container.googleapis.com/", "a GKE cluster"),
    ("https://oidc.eks.", "an EKS cluster"),
    ("https://login.microsoftonline.com/", "Entra ID"),
)
SEVERITY = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.OK: 3, Status.SKIP: 4}


class IssuerState(str, Enum):
    """What fetching an issuer's discovery document gave."""

    ANSWERS = "answers"
    NOT_FOUND = "not-found"  # HTTP 404: the document (the blob, on AKS) is gone
    UNRESOLVED = "unresolved"  # the host name does not resolve
    UNREADABLE = "unreadable"  # anything else (5xx, a timeout, TLS): no verdict


@dataclass(frozen=True)
class IssuerProbe:
    state: IssuerState
    detail: str = ""  # "HTTP 404", "the host name does not resolve", "HTTP 500" ...


@dataclass(frozen=True)
class Trust:
    """One federated credential of one identity."""

    identity: str  # the identity's name
    identity_ref: str  # what `wi unbind` takes for it (its name, or its resource id)
    credential: str
    issuer: str
    subject: str

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) when the subject is a Kubernetes service account."""
        if not self.subject.startswith(SA_SUBJECT):
            return None
        ns, _, name = self.subject[len(SA_SUBJECT):].partition(":")
        return (ns, name) if ns and name and ":" not in name else None


@dataclass(frozen=True)
class Claim:
    """A service account of one context naming an identity with its client-id annotation."""

    context: str
    namespace: str
    service_account: str
    identity: str  # the identity's name (its client id when ARM does not know it)
    client_id: str
    tenant: str | None  # the tenant its pods get: the annotation, else the webhook's default
    identity_tenant: str | None = None  # the tenant the identity lives in, when known


@dataclass
class ContextSummary:
    """One row of the fleet summary."""

    context: str
    cluster: str | None
    issuer: str | None
    service_accounts: int  # those doctor examined: annotated, or used by a labelled pod
    counts: dict[str, int]
    status: str  # ok | warn | fail | error
    error: str | None = None
    worst: Finding | None = None
    seconds: float = 0.0


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    found = {s.value: 0 for s in Status}
    for f in findings:
        found[f.status.value] += 1
    return found


def worst(findings: Iterable[Finding]) -> Finding | None:
    """The finding to name first: a failure, else an error, else a warning."""
    problems = [f for f in findings if f.status in (Status.FAIL, Status.ERROR, Status.WARN)]
    return min(problems, key=lambda f: SEVERITY[f.status]) if problems else None


def summarize(context: str, findings: Sequence[Finding], cluster: str | None = None,
              issuer: str | None = None, service_accounts: int = 0,
              error: str | None = None, seconds: float = 0.0) -> ContextSummary:
    top = worst(findings)
    if error is not None:
        status = "error"
    elif top is None:
        status = "ok"
    else:
        status = top.status.value
    return ContextSummary(context, cluster, issuer, service_accounts, counts(findings), status,
                          error, top, seconds)


def unreachable(context: str, message: str, remediation: Sequence[str] = ()) -> Finding:
    """The one finding of a context doctor could not run on (its `error` row)."""
    return Finding("cluster.reachable", "Cluster reachable", "cluster", Status.ERROR,
                   f"Could not check: {message}",
                   remediation=Remediation(" ".join(remediation)) if remediation else None,
                   unreadable=True, target=Target(context=context))


def assign_fleet_keys(findings: Iterable[Finding]) -> None:
    """Keys unique across a whole fleet run: context (or ``fleet``), check id and target."""
    seen: dict[str, int] = {}
    for f in findings:
        owner = FLEET_LAYER if f.layer == FLEET_LAYER else (f.target.context or "")
        base = f"{owner}/{f.id}" + (f":{f.target.label}" if f.target.label else "")
        seen[base] = seen.get(base, 0) + 1
        f.key = base if seen[base] == 1 else f"{base}#{seen[base]}"


def in_context(command: str, context: str) -> str:
    """A fix command of one context's finding, made to act on that context when run from a
    shell whose current context may be another: ``wi``/``kubectl`` get ``--context``."""
    for tool in ("wi", "kubectl"):
        if command.startswith(tool + " ") and " --context " not in command:
            return f"{tool} --context {shlex.quote(context)} {command[len(tool) + 1:]}"
    return command


def pin_contexts(findings: Iterable[Finding]) -> None:
    """Every fix command of a context's findings, pinned to that context."""
    for f in findings:
        context = f.target.context
        if context and f.layer != FLEET_LAYER and f.remediation and f.remediation.commands:
            f.remediation = Remediation(f.remediation.text,
                                        [in_context(c, context) for c in f.remediation.commands])


def _finding(check: str, title: str, status: Status, summary: str, target: Target,
             expected: object = None, actual: object = None, fix: str = "",
             commands: Sequence[str] = ()) -> Finding:
    evidence = Evidence(expected, actual) if expected is not None or actual is not None else None
    remediation = Remediation(fix, list(commands)) if fix or commands else None
    return Finding(check, title, FLEET_LAYER, status, summary, evidence, remediation,
                   target=target)


def _contexts(contexts: Iterable[str]) -> str | None:
    names = sorted(set(contexts))
    return ",".join(names) if names else None


# -- stale trust ----------------------------------------------------------------------------------

STALE = ("fleet.stale-trust", "No trust of a deleted cluster")


def well_known(issuer: str) -> str | None:
    return next((name for prefix, name in WELL_KNOWN_ISSUERS if issuer.startswith(prefix)), None)


def issuers_to_probe(trusts: Iterable[Trust], known: Iterable[str]) -> list[str]:
    """The issuers whose discovery document decides: service-account trusts of unknown issuers."""
    known = set(known)
    return sorted({t.issuer for t in trusts
                   if t.service_account is not None and t.issuer not in known})


def unbind_command(trust: Trust) -> str:
    ns, sa = trust.service_account or ("NS", "SA")
    return (f"wi unbind {shlex.quote(sa)} {shlex.quote(trust.identity_ref)} -n {shlex.quote(ns)}"
            f" --issuer {shlex.quote(trust.issuer)}")


def stale_trust(trusts: Sequence[Trust], known: Iterable[str],
                probes: Mapping[str, IssuerProbe], subscriptions: Sequence[str],
                contexts_of: Mapping[str, Sequence[str]]) -> list[Finding]:
    """One finding per credential whose issuer is not known, and one per identity whose
    credentials all trust known clusters. ``known``: the issuerURL of every AKS cluster ARM lists
    in ``subscriptions``, and the issuers of the contexts examined (live clusters)."""
    known = set(known)
    searched = f"{len(subscriptions)} subscription{'s' if len(subscriptions) != 1 else ''}"
    out: list[Finding] = []
    by_identity: dict[str, list[Trust]] = {}
    for t in trusts:
        by_identity.setdefault(t.identity, []).append(t)
    for identity, held in sorted(by_identity.items()):
        where = _contexts(contexts_of.get(identity, ()))
        unknown = [t for t in held if t.issuer not in known]
        if not unknown:
            out.append(_finding(*STALE, Status.OK, f"{identity}: every one of its {len(held)} "
                                f"federated credentials trusts a live AKS cluster.",
                                Target(context=where, identity=identity)))
        for t in sorted(unknown, key=lambda t: (t.issuer, t.subject)):
            out.append(_judge(t, probes.get(t.issuer), searched,
                              Target(context=where, identity=identity, issuer=t.issuer)))
    return out


def _judge(t: Trust, probe: IssuerProbe | None, searched: str, target: Target) -> Finding:
    sa = t.service_account
    family = well_known(t.issuer)
    if sa is None:
        what = family or "an issuer that is not a Kubernetes cluster"
        return _finding(*STALE, Status.OK, f"{t.identity} trusts {what} ({t.issuer}, subject "
                        f"{t.subject}): not a cluster, not judged.", target)
    label = f"{sa[0]}/{sa[1]}"
    if probe is not None and probe.state in (IssuerState.NOT_FOUND, IssuerState.UNRESOLVED):
        gone = ("answers HTTP 404" if probe.state == IssuerState.NOT_FOUND
                else "is on a host name that does not resolve")
        risk = ("" if probe.state == IssuerState.NOT_FOUND else
                " Whoever registers that host name could mint tokens this identity accepts.")
        return _finding(
            *STALE, Status.FAIL,
            f"{t.identity} still trusts {label} of issuer {t.issuer} (credential "
            f"{t.credential}), which is no AKS cluster in the {searched} searched and whose "
            f"discovery document {gone}: the cluster was deleted or recreated.",
            target, expected="the issuer of a live cluster",
            actual={"credential": t.credential, "issuer": t.issuer, "subject": t.subject,
                    "discovery document": probe.detail or probe.state.value},
            fix="Remove the trust nothing can use any more (only this issuer's credential; the "
                "identity's other trusts stay)." + risk,
            commands=[unbind_command(t)])
    if probe is not None and probe.state == IssuerState.ANSWERS:
        what = f" ({family})" if family else ""
        return _finding(*STALE, Status.OK,
                        f"{t.identity} trusts {label} of issuer {t.issuer}{what}, which is no AKS "
                        f"cluster in the {searched} searched but whose discovery document "
                        "answers: a cluster elsewhere (another cloud, or a subscription not "
                        "searched); not judged.", target)
    why = probe.detail if probe is not None and probe.detail else "it was not fetched"
    return _finding(*STALE, Status.SKIP,
                    f"{t.identity} trusts {label} of issuer {t.issuer}, which is no AKS cluster "
                    f"in the {searched} searched; whether it still exists could not be told "
                    f"({why}).", target)


# -- one tenant per identity ----------------------------------------------------------------------

TENANT = ("fleet.tenant", "One tenant per identity across clusters")


def tenant_conflicts(claims: Iterable[Claim]) -> list[Finding]:
    """One finding per identity claimed from two clusters or more: fail when their service
    accounts name different tenants (GUIDs; a domain name cannot be compared without Entra)."""
    by_identity: dict[str, list[Claim]] = {}
    for c in claims:
        by_identity.setdefault(c.client_id.lower(), []).append(c)
    out = []
    for group in by_identity.values():
        contexts = {c.context for c in group}
        if len(contexts) < 2:
            continue
        identity = group[0].identity
        own = next((c.identity_tenant for c in group if c.identity_tenant), None)
        tenants: dict[str, list[Claim]] = {}
        for c in group:
            if c.tenant and is_guid(c.tenant):
                tenants.setdefault(c.tenant.lower(), []).append(c)
        target = Target(context=_contexts(contexts), identity=identity)
        if len(tenants) <= 1 or len({c.context for cs in tenants.values() for c in cs}) < 2:
            said = f" with tenant {next(iter(tenants))}" if len(tenants) == 1 else ""
            out.append(_finding(*TENANT, Status.OK, f"{identity} is claimed from "
                                f"{len(contexts)} clusters{said}.", target))
            continue
        listed = "; ".join(f"{t} ({', '.join(_where(c) for c in cs)})"
                           for t, cs in sorted(tenants.items()))
        wrong = [c for t, cs in sorted(tenants.items()) if t != (own or "").lower() for c in cs]
        commands = [f"kubectl --context {shlex.quote(c.context)} annotate serviceaccount "
                    f"{shlex.quote(c.service_account)} -n {shlex.quote(c.namespace)} "
                    f"{TENANT_ANNOTATION}={own} --overwrite" for c in wrong] if own else []
        fix = (f"Give every service account the identity's tenant ({own}), then restart its "
               "pods." if own else "Give every service account the tenant the identity lives "
               "in, then restart its pods.")
        out.append(_finding(*TENANT, Status.FAIL,
                            f"Service accounts in {len(contexts)} clusters claim {identity} with "
                            f"different tenants: {listed}. Pods whose tenant is not the "
                            "identity's get AADSTS700016.", target,
                            expected=own or "one tenant", actual={
                                t: [_where(c) for c in cs] for t, cs in sorted(tenants.items())},
                            fix=fix, commands=commands))
    return out


def _where(c: Claim) -> str:
    return f"{c.context} {c.namespace}/{c.service_account}"


# -- credential pressure --------------------------------------------------------------------------

PRESSURE = ("fleet.credential-room", "Room for more clusters on each identity")


def credential_pressure(credentials: Mapping[str, Sequence[Trust]],
                        contexts_of: Mapping[str, Sequence[str]]) -> list[Finding]:
    """Per identity: warn when it holds PRESSURE_FROM credentials or more, for two issuers or
    more (every cluster added needs one more credential per service account)."""
    out = []
    for identity, held in sorted(credentials.items()):
        issuers = {t.issuer for t in held}
        target = Target(context=_contexts(contexts_of.get(identity, ())), identity=identity)
        counted = (f"{identity}: {len(held)} of {MAX_CREDENTIALS} federated credentials, for "
                   f"{len(issuers)} issuer{'s' if len(issuers) != 1 else ''}")
        if len(held) >= PRESSURE_FROM and len(issuers) >= 2:
            out.append(_finding(
                *PRESSURE, Status.WARN, f"{counted}: every cluster that binds a service account "
                "to it takes one more, and Azure refuses the 21st.", target,
                expected=f"fewer than {PRESSURE_FROM}", actual={
                    "credentials": len(held), "issuers": len(issuers)},
                fix="Use one identity per region (or per group of clusters), or bind fewer "
                    "clusters to this identity; remove the trusts of deleted clusters "
                    "(fleet.stale-trust)."))
        else:
            out.append(_finding(*PRESSURE, Status.OK, counted + ".", target))
    return out


@dataclass
class FleetInputs:
    """What the cross-cluster rules read, gathered from the contexts' runs and ARM."""

    trusts: list[Trust] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    known_issuers: set[str] = field(default_factory=set)
    probes: dict[str, IssuerProbe] = field(default_factory=dict)
    subscriptions: list[str] = field(default_factory=list)
    contexts_of: dict[str, list[str]] = field(default_factory=dict)  # identity -> contexts


def cross_cluster(inputs: FleetInputs) -> list[Finding]:
    by_identity: dict[str, list[Trust]] = {}
    for t in inputs.trusts:
        by_identity.setdefault(t.identity, []).append(t)
    return (stale_trust(inputs.trusts, inputs.known_issuers, inputs.probes,
                        inputs.subscriptions, inputs.contexts_of)
            + tenant_conflicts(inputs.claims)
            + credential_pressure(by_identity, inputs.contexts_of))
