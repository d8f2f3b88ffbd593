"""The trust chain users think in, built from doctor's findings: for each service account,
cluster → pod → service account → federated credential → managed identity → role assignments →
token, each link with the worst status of the findings behind it and the keys of those
findings (the JSON's ``data.chains[]``; the human view draws it as a tree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.models import Finding, Status

# link id, what the user calls it, the checks whose findings make it
LINKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("cluster", "Cluster and webhook", ("cluster.", "webhook.", "identity.issuer-documents",
                                        "live.signing-key")),
    ("pod", "Pod", ("workload.pod-label", "workload.injection", "workload.env-shadowing",
                    "workload.skip-containers", "workload.token-path", "workload.proxy",
                    "workload.windows", "workload.token-file-access", "workload.virtual-node",
                    "identity.token-source")),
    ("service-account", "Service account", ("workload.service-account", "workload.client-id",
                                            "workload.tenant-id", "workload.token-expiration")),
    ("credential", "Federated credential", ("identity.fic", "identity.fic-limit",
                                            "identity.fic-propagation")),
    ("identity", "Managed identity", ("identity.client-id", "identity.region")),
    ("roles", "Role assignments", ("rbac.role-assignments",)),
    ("token", "Token from Entra", ("live.token-exchange", "live.token-claims")),
)
# worst first; a link nothing examined is "skip"
SEVERITY = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.OK: 3, Status.SKIP: 4}


@dataclass
class Link:
    id: str
    name: str
    status: Status = Status.SKIP
    findings: list[Finding] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The summary of the finding that decided its status (one about this service account
        before one about its identity or the cluster)."""
        worst = sorted(self.findings, key=lambda f: (SEVERITY[f.status],
                                                     f.target.service_account is None))
        return worst[0].summary if worst else "nothing to check"

    @property
    def broken(self) -> Finding | None:
        return next((f for f in sorted(self.findings, key=lambda f: SEVERITY[f.status])
                     if f.status in (Status.FAIL, Status.ERROR)), None)

    def to_json(self) -> dict[str, Any]:
        return {"link": self.id, "name": self.name, "status": self.status.value,
                "summary": self.reason, "findings": [f.key for f in self.findings]}


@dataclass
class Chain:
    namespace: str
    service_account: str
    identity: str | None
    links: list[Link]

    @property
    def status(self) -> Status:
        return min((link.status for link in self.links), key=lambda s: SEVERITY[s])

    @property
    def broken(self) -> Link | None:
        """The first link (in chain order) with a failure: where to start fixing."""
        return next((link for link in self.links if link.broken is not None), None)

    def to_json(self) -> dict[str, Any]:
        broken = self.broken
        return {"namespace": self.namespace, "service_account": self.service_account,
                "identity": self.identity, "status": self.status.value,
                "broken_link": broken.id if broken else None,
                "links": [link.to_json() for link in self.links]}


def _link_of(check_id: str) -> str | None:
    for link_id, _, prefixes in LINKS:
        if any(check_id == p or (p.endswith(".") and check_id.startswith(p))
               for p in prefixes):
            return link_id
    return None


def chains(findings: list[Finding], subjects: list[tuple[str, str]]) -> list[Chain]:
    """One chain per (namespace, service account) examined. The findings are indexed once by
    what they are about (a fleet of clusters has thousands), then each chain takes its own, in
    their order."""
    cluster_wide: dict[str | None, list[tuple[int, Finding, str]]] = {}
    by_account: dict[tuple[str | None, str], list[tuple[int, Finding, str]]] = {}
    by_identity: dict[str, list[tuple[int, Finding, str]]] = {}
    identity_of: dict[tuple[str | None, str], str] = {}
    links_of: dict[str, str | None] = {}
    for i, f in enumerate(findings):
        t = f.target
        if t.service_account is not None and t.identity:
            identity_of.setdefault((t.namespace, t.service_account), t.identity)
        if f.id not in links_of:
            links_of[f.id] = _link_of(f.id)
        link_id = links_of[f.id]
        if link_id is None:
            continue
        entry = (i, f, link_id)
        if link_id == "cluster":
            if t.service_account is None:
                cluster_wide.setdefault(t.namespace, []).append(entry)
        elif t.service_account is not None:
            by_account.setdefault((t.namespace, t.service_account), []).append(entry)
        elif t.identity is not None:
            by_identity.setdefault(t.identity, []).append(entry)
    out = []
    for ns, sa in subjects:
        identity = identity_of.get((ns, sa))
        links = [Link(link_id, name) for link_id, name, _ in LINKS]
        by_id = {link.id: link for link in links}
        mine = [*cluster_wide.get(None, []), *(cluster_wide.get(ns, []) if ns is not None else []),
                *by_account.get((ns, sa), []),
                *(by_identity.get(identity, []) if identity is not None else [])]
        for _, f, link_id in sorted(mine, key=lambda e: e[0]):
            by_id[link_id].findings.append(f)
        for link in links:
            seen = [f.status for f in link.findings if f.status != Status.SKIP]
            link.status = min(seen, key=lambda s: SEVERITY[s]) if seen else Status.SKIP
        out.append(Chain(ns, sa, identity, links))
    return out
