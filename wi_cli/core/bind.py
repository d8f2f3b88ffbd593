"""`wi bind`: trust a service account from a managed identity.

Both plan first (every read, on both sides, before any write), then write only the trust, the
annotations and the role assignments the command names (see ../shared/DESIGN.md §5): a credential
is the trust (issuer, subject); one for another issuer or subject is never changed, and its name
is only a handle. The rules themselves live in :mod:`wi_cli.core.models`."""

from __future__ import annotations

from functools import partial

from dataclasses import dataclass, field

from . import plan
from .errors import (
    ConfigError,
    ConflictError,
)
from .models import (
    MAX_CREDENTIALS,
    WI_CLIENT_ID,
    WI_TENANT_ID,
    FederatedCredential,
    Identity,
    ServiceAccount,
    ServiceAccountRef,
    credential_name,
    restart_reason,
    trust_for,
)
from .names import (
    check_fic_name,
    check_namespace,
    check_service_account,
    parse_identity,
)
from .plan import Consent, Step
from .trust import (
    FIC,
    FIC_DELETE,
    FIC_WRITE,
    ROLE_WRITE,
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
    trusted_issuer,
)


@dataclass
class BindRequest:
    service_account: str
    identity: str
    namespace: str = "default"
    create: bool = False
    create_namespace: bool = False
    identity_resource_group: str | None = None
    cluster: str | None = None
    resource_group: str | None = None
    issuer: str | None = None
    fic_name: str | None = None
    roles: list[tuple[str, str]] = field(default_factory=list)
    restart: bool = False
    dry_run: bool = False
    replace: bool = False
    image_pull_secrets: tuple[str, ...] = ()  # for a service account it creates

    @property
    def ref(self) -> ServiceAccountRef:
        return ServiceAccountRef(self.namespace, self.service_account)


def validate(req: BindRequest) -> None:
    check_namespace(req.namespace)
    check_service_account(req.service_account)
    parse_identity(req.identity)
    if req.fic_name:
        check_fic_name(req.fic_name)
    check_target(req.cluster, req.resource_group, req.issuer)
    check_roles(req.roles)


# -- wi bind ----------------------------------------------------------------------------------------

def _credential_step(req: BindRequest, ports: Ports, ident: Identity, issuer: str,
                     audience: str, existing: list[FederatedCredential],
                     notes: list[str]) -> Step:
    subject = req.ref.subject
    detail = f"{issuer} → {subject}"
    trust = trust_for(existing, issuer, subject)
    if trust is not None:
        if req.fic_name and req.fic_name.lower() != trust.name.lower():
            notes.append(f"The credential for this issuer and subject is named {trust.name}; "
                         f"names cannot be changed, so --name {req.fic_name} is ignored.")
        if audience in trust.audiences:
            return Step(FIC, trust.name, "keep", detail, trust=True)
        fixed = FederatedCredential(trust.name, issuer, subject, (audience,))
        return Step(FIC, trust.name, "update", f"{detail} (audience → {audience})",
                    trust=True, run=lambda: ports.identities.put_credential(ident, fixed))
    taken = [c.name for c in existing]
    if req.fic_name:
        holder = next((c for c in existing if c.name.lower() == req.fic_name.lower()), None)
        if holder is not None:
            raise ConflictError(f"Credential name {holder.name} on {ident.name} already holds "
                                f"another trust ({holder.issuer} → {holder.subject}).",
                                ["Pick another --name, or leave --name out (wi picks a free "
                                 "one)."])
        name = req.fic_name
    else:
        name = credential_name(req.ref, issuer, taken)
    if len(existing) >= MAX_CREDENTIALS:
        names = ", ".join(sorted(c.name for c in existing))
        raise ConflictError(f"Identity {ident.name} already has {len(existing)} federated "
                            f"credentials, the most Azure allows: {names}.",
                            ["Remove one no longer used ('wi unbind SA IDENTITY -n NS --issuer "
                             "ISSUER'), or bind to another identity."])
    new = FederatedCredential(name, issuer, subject, (audience,))
    return Step(FIC, name, "create", detail, trust=True,
                run=lambda: ports.identities.put_credential(ident, new))


def _service_account_steps(req: BindRequest, ports: Ports, ident: Identity,
                           ns_exists: bool, sa: ServiceAccount | None) -> list[Step]:
    ref = req.ref
    wanted = {WI_CLIENT_ID: ident.client_id, WI_TENANT_ID: ident.tenant_id}
    steps = []
    if not ns_exists:
        steps.append(Step("Namespace", ref.namespace, "create",
                          run=lambda: ports.workloads.create_namespace(ref.namespace)))
    if sa is None:
        pulls = req.image_pull_secrets
        steps.append(Step("ServiceAccount", ref.label, "create",
                          "annotated with client-id and tenant-id" + (
                              f"; imagePullSecrets {', '.join(pulls)}" if pulls else ""),
                          run=lambda: ports.workloads.create_service_account(ref, wanted,
                                                                             pulls)))
    elif all(sa.annotations.get(k) == v for k, v in wanted.items()):
        steps.append(Step("ServiceAccount", ref.label, "keep", "annotations already set"))
    else:
        steps.append(Step("ServiceAccount", ref.label, "update",
                          "annotated with client-id and tenant-id",
                          run=lambda: ports.workloads.annotate(ref, dict(wanted))))
    return steps


def _previous_identity(ports: Ports, sa: ServiceAccount | None, ident: Identity) -> Identity | None:
    """The identity the service account's client-id annotation names today, if another."""
    if sa is None or not sa.client_id or sa.client_id.lower() == ident.client_id.lower():
        return None
    for subscription in dict.fromkeys(s for s in (ports.subscription, ident.subscription) if s):
        hit = next((i for i in ports.identities.list(subscription)
                    if i.client_id.lower() == sa.client_id.lower()), None)
        if hit is not None:
            return hit
    return None


def _replace_steps(req: BindRequest, ports: Ports, sa: ServiceAccount | None, ident: Identity,
                   issuer: str, notes: list[str]) -> list[Step]:
    if sa is None or not sa.client_id or sa.client_id.lower() == ident.client_id.lower():
        return []
    old = _previous_identity(ports, sa, ident)
    if old is None:
        notes.append(f"{req.ref.label} was annotated with client id {sa.client_id}, which names "
                     "no user-assigned identity wi can read: any trust it holds is left as it is.")
        return []
    stale = trust_for(ports.identities.credentials(old), issuer, req.ref.subject)
    if stale is None:
        return []
    if not req.replace:
        notes.append(f"Identity {old.name} (the service account's previous client id) still "
                     f"trusts {req.ref.subject} from this issuer (credential {stale.name}); pass "
                     "--replace to remove that trust.")
        return []
    require_azure(ports.identities.permissions(old), FIC_DELETE, old.name, "wi bind")
    return [Step(FIC, f"{stale.name} (on {old.name})", "delete",
                 f"{issuer} → {req.ref.subject}; replaced by {ident.name}", trust=True,
                 run=lambda: ports.identities.delete_credential(old, stale.name))]


def _role_steps(ports: Ports, ident: Identity, roles: list[tuple[str, str]]) -> list[Step]:
    steps = []
    for role, scope in roles:
        rd = find_role(ports, role, scope)
        label = f"{rd.name} @ {scope}"
        if any(a.role_guid == rd.guid for a in ports.rbac.assignments(ident.principal_id, scope)):
            steps.append(Step("RoleAssignment", label, "keep"))
            continue
        steps.append(Step("RoleAssignment", label, "create",
                          run=partial(ports.rbac.assign, rd, ident.principal_id, scope)))
    return steps


def _pod_steps(req: BindRequest, ports: Ports, ident: Identity, sa: ServiceAccount | None,
               annotation_changes: bool) -> list[Step]:
    if sa is None:
        return []
    steps: list[Step] = []
    restarting: set[str] = set()
    for pod in ports.workloads.pods_of(req.ref):
        why = restart_reason(pod, ident.client_id, annotation_changes)
        if not why:
            continue
        deployment = ports.workloads.deployment_of(pod)
        if req.restart and deployment and "label" not in why:
            if deployment not in restarting:
                restarting.add(deployment)
                steps.append(Step("Deployment", f"{req.namespace}/{deployment}", "restart", why,
                                  run=partial(ports.workloads.restart_deployment,
                                              req.namespace, deployment)))
            continue
        target = f"deployment {deployment}" if deployment else "bare pod: delete and re-create it"
        steps.append(Step("Pod", f"{req.namespace}/{pod.metadata.name}", "note",
                          f"needs restart: {why} ({target})"))
    return steps


def _kube_checks(steps: list[Step], namespace: str) -> list[tuple[str, str, str | None, str]]:
    wanted = {("Namespace", "create"): ("create", "namespaces", None, ""),
              ("ServiceAccount", "create"): ("create", "serviceaccounts", namespace, ""),
              ("ServiceAccount", "update"): ("patch", "serviceaccounts", namespace, ""),
              ("Deployment", "restart"): ("patch", "deployments", namespace, "apps")}
    return list(dict.fromkeys(wanted[(s.object, s.action)] for s in steps
                              if (s.object, s.action) in wanted))


def bind(req: BindRequest, ports: Ports, target: Target, consent: Consent) -> Outcome:
    outcome = plan_bind(req, ports, target)
    if req.dry_run:
        mark_dry_run(outcome.steps)
        return outcome
    plan.confirm(outcome.steps, consent, "Apply these changes?")
    plan.apply(outcome.steps, outcome.to_json, "wi bind")
    return outcome


def plan_bind(req: BindRequest, ports: Ports, target: Target) -> Outcome:
    """Every read and permission check of `wi bind`, and its steps (nothing is written): `wi
    bind` applies them, `wi migrate` applies them for each service account it moves."""
    validate(req)
    ref = req.ref
    ident = resolve_identity(ports, parse_identity(req.identity), req.identity_resource_group)
    issuer, source = trusted_issuer(ports, target)
    # Kubernetes reads first: an unreachable API server stops the command before anything else
    ns_exists = ports.workloads.namespace_exists(ref.namespace)
    if not ns_exists and not req.create_namespace:
        raise ConfigError(f"Namespace {ref.namespace} does not exist.",
                          ["Create it, or pass --create-namespace --create."])
    sa = ports.workloads.service_account(ref) if ns_exists else None
    if sa is None and not req.create:
        raise ConfigError(f"Service account {ref.label} does not exist.",
                          [f"Create it ('kubectl create serviceaccount {ref.name} -n "
                           f"{ref.namespace}') or pass --create."])
    audience, audience_source = ports.workloads.token_audience(ref.namespace)
    notes: list[str] = []
    existing = ports.identities.credentials(ident)
    steps = [_credential_step(req, ports, ident, issuer, audience, existing, notes)]
    steps += _service_account_steps(req, ports, ident, ns_exists, sa)
    steps += _role_steps(ports, ident, req.roles)
    steps += _replace_steps(req, ports, sa, ident, issuer, notes)
    annotation_changes = any(s.object == "ServiceAccount" and s.writes for s in steps)
    steps += _pod_steps(req, ports, ident, sa, annotation_changes)

    command = "wi bind"
    if steps[0].writes:
        require_azure(ports.identities.permissions(ident), FIC_WRITE, ident.name, command)
    for (role, scope), s in zip(req.roles, [s for s in steps if s.object == "RoleAssignment"]):
        if s.writes:
            require_azure(ports.rbac.permissions(scope), ROLE_WRITE, scope, command)
    require_kube(ports, _kube_checks(steps, ref.namespace), command)

    return Outcome("bind", ident, ref.subject, [issuer], source, audience, steps, notes,
                   req.dry_run, f"wi doctor -n {ref.namespace} --service-account {ref.name}",
                   audience_source)


