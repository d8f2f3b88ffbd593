"""`wi bind` / `wi unbind`: trust a service account from a managed identity, or undo it.

Both plan first (every read, on both sides, before any write), then write only the trust, the
annotations and the role assignments the command names (see ../shared/DESIGN.md §5): a credential
is the trust (issuer, subject); one for another issuer or subject is never changed, and its name
is only a handle. The rules themselves live in :mod:`wi_cli.core.models`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import plan
from .errors import (
    AzureForbidden,
    AzureNotFound,
    ConfigError,
    ConflictError,
    KubernetesError,
    UsageError,
)
from .models import (
    MAX_CREDENTIALS,
    PermissionBlock,
    WI_CLIENT_ID,
    WI_TENANT_ID,
    FederatedCredential,
    Identity,
    ResourceId,
    ServiceAccount,
    ServiceAccountRef,
    credential_name,
    is_scope,
    permits,
    restart_reason,
    trust_for,
)
from .names import (
    IdentityRef,
    check_fic_name,
    check_namespace,
    check_service_account,
    parse_identity,
)
from .plan import Consent, Step
from .ports import Clusters, Identities, Rbac, Workloads

FIC_WRITE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
FIC_DELETE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete"
ROLE_WRITE = "Microsoft.Authorization/roleAssignments/write"
ROLE_DELETE = "Microsoft.Authorization/roleAssignments/delete"
FIC = "FederatedIdentityCredential"


@dataclass
class Ports:
    identities: Identities
    rbac: Rbac
    clusters: Clusters
    workloads: Workloads
    subscription: str | None  # where identities given by name or client id are looked up


# -- requests and outcomes ------------------------------------------------------------------------

@dataclass
class Target:
    """Which issuer: given, an AKS cluster's, the `wi provision` state's, or the current
    context's (in that order)."""

    issuer: str | None = None
    cluster: str | None = None
    resource_group: str | None = None
    state_cluster: tuple[str, str] | None = None  # (name, resource group) from `wi provision`


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

    @property
    def ref(self) -> ServiceAccountRef:
        return ServiceAccountRef(self.namespace, self.service_account)


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


@dataclass
class Outcome:
    command: str
    identity: Identity
    subject: str
    issuers: list[str]
    issuer_source: str
    audience: str
    steps: list[Step]
    notes: list[str]
    dry_run: bool
    next_command: str | None = None
    audience_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "identity": {"id": str(ident.id), "name": ident.name,
                         "resource_group": ident.resource_group,
                         "subscription": ident.subscription, "client_id": ident.client_id,
                         "principal_id": ident.principal_id, "tenant_id": ident.tenant_id},
            "subject": self.subject,
            "issuer": self.issuers[0] if len(self.issuers) == 1 else None,
            "issuers": self.issuers, "issuer_source": self.issuer_source,
            "audience": self.audience, "audience_source": self.audience_source,
            "dry_run": self.dry_run,
            "steps": [s.to_json() for s in self.steps], "notes": list(self.notes),
            "next": self.next_command,
        }


# -- validation (no I/O) ----------------------------------------------------------------------------

def _check_target(cluster: str | None, resource_group: str | None, issuer: str | None) -> None:
    if cluster and not resource_group:
        raise UsageError("--cluster needs --resource-group.",
                         ["Pass both, e.g. --cluster my-aks --resource-group my-rg."])
    if issuer is not None and not issuer.startswith("https://"):
        raise UsageError(f"The issuer must be an https URL, got {issuer!r}.")


def _check_roles(roles: list[tuple[str, str]]) -> None:
    for role, scope in roles:
        if not role.strip():
            raise UsageError("--role is empty.", ["Pass a role name or its GUID."])
        if not is_scope(scope):
            raise UsageError(f"--scope {scope!r} is not an Azure scope.",
                             ["A scope is /subscriptions/ID, /subscriptions/ID/resourceGroups/RG "
                              "or a resource id."])


def validate(req: BindRequest) -> None:
    check_namespace(req.namespace)
    check_service_account(req.service_account)
    parse_identity(req.identity)
    if req.fic_name:
        check_fic_name(req.fic_name)
    _check_target(req.cluster, req.resource_group, req.issuer)
    _check_roles(req.roles)


def validate_unbind(req: UnbindRequest) -> None:
    check_namespace(req.namespace)
    check_service_account(req.service_account)
    parse_identity(req.identity)
    _check_target(req.cluster, req.resource_group, req.issuer)
    if req.all_issuers and (req.issuer or req.cluster):
        raise UsageError("--all-issuers removes the credentials of every issuer: it does not go "
                         "with --issuer or --cluster.")
    _check_roles(req.roles)


# -- reads ----------------------------------------------------------------------------------------

IDENTITY_TYPE = ("Microsoft.ManagedIdentity", "userAssignedIdentities")


def resolve_identity(ports: Ports, ref: IdentityRef, resource_group: str | None) -> Identity:
    """A resource id is looked up in ITS subscription; a name or client id in --subscription."""
    if ref.kind == "id":
        rid = ResourceId.parse(ref.value)
    elif ref.kind == "name" and resource_group:
        rid = ResourceId(_subscription(ports), resource_group, *IDENTITY_TYPE, ref.value)
    else:
        rid = None
    if rid is not None:
        found = ports.identities.get(rid)
        if found is None:
            raise ConfigError(f"No user-assigned identity {rid.name!r} in resource group "
                              f"{rid.resource_group} of subscription {rid.subscription}.",
                              ["Check the name and resource group ('az identity list -o "
                               "table')."])
        return found
    subscription = _subscription(ports)
    everything = ports.identities.list(subscription)
    if ref.kind == "client_id":
        hits = [i for i in everything if i.client_id.lower() == ref.value]
        if not hits:
            by_principal = [i for i in everything if i.principal_id.lower() == ref.value]
            hint = (f"{ref.value} is the principalId of '{by_principal[0].name}'; pass its "
                    f"clientId {by_principal[0].client_id} (or its name)."
                    if by_principal else "Check the client id ('az identity list'), or pass "
                    "--subscription, or the identity's resource id.")
            raise ConfigError(f"No user-assigned identity with client id {ref.value} in "
                              f"subscription {subscription}.", [hint])
        return hits[0]
    hits = [i for i in everything if i.name.lower() == ref.value.lower()]
    if not hits:
        raise ConfigError(f"No user-assigned identity named {ref.value!r} in subscription "
                          f"{subscription}.",
                          ["Check the name ('az identity list -o table'), pass --subscription, "
                           "or pass the identity's full resource id."])
    if len(hits) > 1:
        groups = ", ".join(sorted(i.resource_group for i in hits))
        raise UsageError(f"{len(hits)} identities are named {ref.value!r} (resource groups: "
                         f"{groups}).", ["Pick one with --identity-resource-group RG."])
    return hits[0]


def _subscription(ports: Ports) -> str:
    if not ports.subscription:
        raise ConfigError("No Azure subscription is selected.",
                          ["Pass --subscription ID or set AZURE_SUBSCRIPTION_ID."])
    return ports.subscription


def resolve_issuer(ports: Ports, target: Target) -> tuple[str, str]:
    """(issuer, where it came from)."""
    if target.issuer:
        return target.issuer, "--issuer"
    named = ((target.cluster, target.resource_group) if target.cluster
             else target.state_cluster)
    if named:
        name, rg = named
        cluster = ports.clusters.get(rg, name)
        if cluster is None:
            raise ConfigError(f"No AKS cluster {name!r} in resource group {rg}.",
                              ["Check --cluster and --resource-group ('az aks list -o table')."])
        if not cluster.issuer_url:
            raise ConflictError(f"The OIDC issuer of AKS cluster {name} is off, so Entra cannot "
                                "trust its service-account tokens.",
                                [f"az aks update -g {rg} -n {name} --enable-oidc-issuer "
                                 "--enable-workload-identity"])
        return cluster.issuer_url, f"AKS cluster {name}"
    issuer = ports.workloads.issuer()
    if not issuer:
        raise ConfigError("The cluster does not publish an OIDC issuer.",
                          ["Pass --issuer URL, or name the AKS cluster with --cluster and "
                           "--resource-group."])
    return issuer, "the API server's discovery document"


def _role(ports: Ports, role: str, scope: str) -> Any:
    try:
        found = ports.rbac.role(role, scope)
    except AzureNotFound:
        raise ConfigError(f"The scope {scope} does not exist.",
                          ["Check the --scope resource id ('az resource show --ids ...')."]) \
            from None
    if found is None:
        raise ConfigError(f"No role named {role!r} at {scope}.",
                          ["Check the name ('az role definition list --name ROLE') or pass the "
                           "role's GUID."])
    return found


# -- permission pre-checks -----------------------------------------------------------------------

def _require_azure(blocks: list[PermissionBlock] | None, action: str, where: str,
                   command: str) -> None:
    """Refuse before writing when ARM's permissions API says the operator may not do it; when
    ARM will not say (None), the write itself will tell."""
    if blocks is not None and not permits(blocks, action):
        raise AzureForbidden(f"The operator lacks permission '{action}' on {where}, so '{command}' "
                             "would fail there; nothing was changed.",
                             [f"Ask an Owner to grant a role that includes {action} at that scope "
                              "(or above), then run the command again."], status=403)


def _require_kube(ports: Ports, checks: list[tuple[str, str, str | None, str]],
                  command: str) -> None:
    for verb, resource, namespace, group in checks:
        try:
            allowed = ports.workloads.can(verb, resource, namespace, group)
        except KubernetesError as exc:
            if exc.status in (403, 404):  # the review API itself is closed: the write will tell
                continue
            raise
        if not allowed:
            where = f" in namespace {namespace}" if namespace else ""
            raise KubernetesError(f"The kubeconfig's user may not {verb} {resource}{where}, so "
                                  f"'{command}' would fail there; nothing was changed.",
                                  [f"Ask a cluster admin for RBAC that allows {verb} on "
                                   f"{resource}{where} ('kubectl auth can-i {verb} {resource}"
                                   f"{' -n ' + namespace if namespace else ''}')."],
                                  status=403, reason="Forbidden")


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
        steps.append(Step("ServiceAccount", ref.label, "create",
                          "annotated with client-id and tenant-id",
                          run=lambda: ports.workloads.create_service_account(ref, wanted)))
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
    _require_azure(ports.identities.permissions(old), FIC_DELETE, old.name, "wi bind")
    return [Step(FIC, f"{stale.name} (on {old.name})", "delete",
                 f"{issuer} → {req.ref.subject}; replaced by {ident.name}", trust=True,
                 run=lambda: ports.identities.delete_credential(old, stale.name))]


def _role_steps(ports: Ports, ident: Identity, roles: list[tuple[str, str]]) -> list[Step]:
    steps = []
    for role, scope in roles:
        rd = _role(ports, role, scope)
        label = f"{rd.name} @ {scope}"
        if any(a.role_guid == rd.guid for a in ports.rbac.assignments(ident.principal_id, scope)):
            steps.append(Step("RoleAssignment", label, "keep"))
            continue
        steps.append(Step("RoleAssignment", label, "create",
                          run=lambda rd=rd, scope=scope: ports.rbac.assign(
                              rd, ident.principal_id, scope)))
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
                                  run=lambda d=deployment: ports.workloads.restart_deployment(
                                      req.namespace, d)))
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
    validate(req)
    ref = req.ref
    ident = resolve_identity(ports, parse_identity(req.identity), req.identity_resource_group)
    issuer, source = resolve_issuer(ports, target)
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
        _require_azure(ports.identities.permissions(ident), FIC_WRITE, ident.name, command)
    for (role, scope), s in zip(req.roles, [s for s in steps if s.object == "RoleAssignment"]):
        if s.writes:
            _require_azure(ports.rbac.permissions(scope), ROLE_WRITE, scope, command)
    _require_kube(ports, _kube_checks(steps, ref.namespace), command)

    outcome = Outcome("bind", ident, ref.subject, [issuer], source, audience, steps, notes,
                      req.dry_run, f"wi doctor -n {ref.namespace} --service-account {ref.name}",
                      audience_source)
    if req.dry_run:
        _mark_dry_run(steps)
        return outcome
    plan.confirm(steps, consent, "Apply these changes?")
    plan.apply(steps, outcome.to_json, "wi bind")
    return outcome


def _mark_dry_run(steps: list[Step]) -> None:
    for s in steps:
        if not s.writes:
            s.status = plan.UNCHANGED


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
                  run=lambda c=c: ports.identities.delete_credential(ident, c.name))
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
        _require_azure(ports.identities.permissions(ident), FIC_DELETE, ident.name, command)
    for (role, scope), s in zip(req.roles, role_steps):
        if s.writes:
            _require_azure(ports.rbac.permissions(scope), ROLE_DELETE, scope, command)
    _require_kube(ports, [("patch", "serviceaccounts", ref.namespace, "")]
                  if any(s.object == "ServiceAccount" and s.writes for s in steps) else [],
                  command)

    outcome = Outcome("unbind", ident, ref.subject, issuers, source, "", steps, notes,
                      req.dry_run)
    if req.dry_run:
        _mark_dry_run(steps)
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
        rd = _role(ports, role, scope)
        label = f"{rd.name} @ {scope}"
        found = [a for a in ports.rbac.assignments(ident.principal_id, scope)
                 if a.role_guid == rd.guid]
        if not found:
            steps.append(Step("RoleAssignment", label, "keep", "not assigned"))
        for a in found:
            steps.append(Step("RoleAssignment", label, "delete",
                              run=lambda a=a, n=rd.name: ports.rbac.unassign(a, n)))
    return steps
