"""`wi unbind`: remove the trust `wi bind` created, for one issuer (or, explicitly, all), and
the annotations and role assignments that belong to it; nothing else."""

from __future__ import annotations

from functools import partial

from dataclasses import dataclass, field

from . import plan
from .errors import UsageError
from .models import WI_CLIENT_ID, WI_TENANT_ID, Identity, ServiceAccountRef, trust_for
from .names import check_namespace, check_service_account, parse_identity
from .plan import Consent, Step
from .trust import (
    FIC,
    FIC_DELETE,
    ROLE_DELETE,
    Outcome,
    Ports,
    Target,
    check_roles,
    check_target,
    find_role,
    mark_dry_run,
    require_azure,
    require_kube,
    resolve_identity,
    resolve_issuer,
)


@dataclass
class UnbindRequest:
    service_account: str
    identity: str
    namespace: str = "default"
    identity_resource_group: str | None = None
    cluster: str | None = None
    resource_group: str | None = None
    issuer: str | None = None
    all_issuers: bool = False
    roles: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ref(self) -> ServiceAccountRef:
        return ServiceAccountRef(self.namespace, self.service_account)


def validate_unbind(req: UnbindRequest) -> None:
    check_namespace(req.namespace)
    check_service_account(req.service_account)
    parse_identity(req.identity)
    check_target(req.cluster, req.resource_group, req.issuer)
    if req.all_issuers and (req.issuer or req.cluster):
        raise UsageError("--all-issuers removes the credentials of every issuer: it does not go "
                         "with --issuer or --cluster.")
    check_roles(req.roles)


# -- wi unbind --------------------------------------------------------------------------------------

def unbind(req: UnbindRequest, ports: Ports, target: Target, consent: Consent) -> Outcome:
    validate_unbind(req)
    ref = req.ref
    ident = resolve_identity(ports, parse_identity(req.identity), req.identity_resource_group)
    creds = ports.identities.credentials(ident)
    notes: list[str] = []
    if req.all_issuers:
        doomed = [c for c in creds if c.subject == ref.subject]
        issuers, source, on_cluster = [c.issuer for c in doomed], "--all-issuers", True
    else:
        issuer, source = resolve_issuer(ports, target)
        found = trust_for(creds, issuer, ref.subject)
        doomed = [found] if found is not None else []
        issuers = [issuer]
        on_cluster = source == "the API server's discovery document"
        if not on_cluster:
            current = ports.workloads.issuer()
            on_cluster = current == issuer
            if not on_cluster:
                notes.append(f"{issuer} is not the issuer of the current context's cluster "
                             f"({current or 'none published'}): only Azure is touched; service "
                             "accounts are left as they are.")
        if not doomed:
            notes.append(f"No credential on {ident.name} trusts {ref.subject} from {issuer}.")
    steps = [Step(FIC, c.name, "delete", f"{c.issuer} → {c.subject}", trust=True,
                  run=partial(ports.identities.delete_credential, ident, c.name))
             for c in doomed]
    if on_cluster:
        steps.append(_annotation_step(ports, ref, ident))
    remaining = [c for c in creds if c not in doomed]
    role_steps = _unassign_steps(ports, ident, req.roles)
    steps += role_steps
    if role_steps and any(s.writes for s in role_steps) and remaining:
        notes.append(f"{ident.name} keeps {len(remaining)} other federated credential(s) "
                     f"({', '.join(sorted(c.name for c in remaining))}) whose workloads may rely "
                     "on the role assignments being removed.")

    command = "wi unbind"
    if doomed:
        require_azure(ports.identities.permissions(ident), FIC_DELETE, ident.name, command)
    for (role, scope), s in zip(req.roles, role_steps):
        if s.writes:
            require_azure(ports.rbac.permissions(scope), ROLE_DELETE, scope, command)
    require_kube(ports, [("patch", "serviceaccounts", ref.namespace, "")]
                  if any(s.object == "ServiceAccount" and s.writes for s in steps) else [],
                  command)

    outcome = Outcome("unbind", ident, ref.subject, issuers, source, "", steps, notes,
                      req.dry_run)
    if req.dry_run:
        mark_dry_run(steps)
        return outcome
    reasons = []
    if remaining and any(s.writes for s in role_steps):
        reasons.append(f"{len(remaining)} other credential(s) of {ident.name} may rely on the "
                       "role assignments it removes")
    plan.confirm(steps, consent, "Remove these?", reasons)
    plan.apply(steps, outcome.to_json, "wi unbind")
    return outcome


def _annotation_step(ports: Ports, ref: ServiceAccountRef, ident: Identity) -> Step:
    sa = ports.workloads.service_account(ref)
    if sa is None:
        return Step("ServiceAccount", ref.label, "keep", "not found")
    if not sa.client_id:
        return Step("ServiceAccount", ref.label, "keep", "no workload identity annotations")
    if sa.client_id.lower() != ident.client_id.lower():
        return Step("ServiceAccount", ref.label, "keep",
                    f"annotated for another identity (client id {sa.client_id}): left as it is")
    return Step("ServiceAccount", ref.label, "update", "client-id/tenant-id annotations removed",
                run=lambda: ports.workloads.annotate(ref, {WI_CLIENT_ID: None,
                                                           WI_TENANT_ID: None}))


def _unassign_steps(ports: Ports, ident: Identity, roles: list[tuple[str, str]]) -> list[Step]:
    steps = []
    for role, scope in roles:
        rd = find_role(ports, role, scope)
        label = f"{rd.name} @ {scope}"
        found = [a for a in ports.rbac.assignments(ident.principal_id, scope)
                 if a.role_guid == rd.guid]
        if not found:
            steps.append(Step("RoleAssignment", label, "keep", "not assigned"))
        for a in found:
            steps.append(Step("RoleAssignment", label, "delete",
                              run=partial(ports.rbac.unassign, a, rd.name)))
    return steps
