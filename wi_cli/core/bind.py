"""`wi bind`: the federated credential on the identity plus the annotated service account."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from ..adapters.azure.clients import AzureClients
from ..adapters.azure.errors import AzureConflict, azure_errors
from ..adapters.kube.client import KubeClients, kube_errors
from .errors import (
    AzureNotFound,
    ConfigError,
    ConflictError,
    KubernetesError,
    KubernetesNotFound,
    UsageError,
    WiError,
)
from .names import (
    WI_CLIENT_ID,
    WI_TENANT_ID,
    WI_USE_LABEL,
    IdentityRef,
    check_fic_name,
    check_namespace,
    check_service_account,
    default_fic_name,
    is_guid,
    parse_identity,
)

MAX_FICS = 20
T = TypeVar("T")


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


@dataclass
class Step:
    object: str  # kind
    name: str
    action: str  # created | updated | unchanged | needs restart | restarted | would create ...
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"object": self.object, "name": self.name, "action": self.action,
                "detail": self.detail}


@dataclass
class Identity:
    id: str
    name: str
    resource_group: str
    client_id: str
    principal_id: str
    tenant_id: str


@dataclass
class BindOutcome:
    identity: Identity
    issuer: str
    issuer_source: str
    subject: str
    audience: str
    steps: list[Step]
    next_command: str
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "identity": vars(self.identity), "issuer": self.issuer,
            "issuer_source": self.issuer_source, "subject": self.subject,
            "audience": self.audience, "dry_run": self.dry_run,
            "steps": [s.to_json() for s in self.steps], "next": self.next_command,
        }


def validate(req: BindRequest) -> None:
    check_namespace(req.namespace)
    check_service_account(req.service_account)
    parse_identity(req.identity)
    if req.fic_name:
        check_fic_name(req.fic_name)
    if req.cluster and not req.resource_group:
        raise UsageError("--cluster needs --resource-group.",
                         ["Pass both, e.g. --cluster my-aks --resource-group my-rg."])
    if req.issuer and not req.issuer.startswith("https://"):
        raise UsageError(f"The issuer must be an https URL, got {req.issuer!r}.")


def retry_conflicts(fn: Callable[[], T], doing: str, attempts: int = 6, delay: float = 0.3) -> T:
    """ARM refuses concurrent FIC writes to one identity with 409: wait and try again."""
    for attempt in range(attempts):
        try:
            with azure_errors(doing):
                return fn()
        except AzureConflict:
            if attempt == attempts - 1:
                raise
            time.sleep(delay * (2 ** attempt))
    raise AssertionError("unreachable")


# -- identity -------------------------------------------------------------------------------------

def _identity(model: Any) -> Identity:
    rg = model.id.split("/")[4]
    return Identity(model.id, model.name, rg, model.client_id, model.principal_id, model.tenant_id)


def resolve_identity(azure: AzureClients, ref: IdentityRef, resource_group: str | None) -> Identity:
    msi = azure.msi.user_assigned_identities
    direct = ((ref.resource_group, ref.name) if ref.kind == "id" else
              (resource_group, ref.name) if ref.kind == "name" and resource_group else None)
    if direct:
        try:
            with azure_errors("looking up the managed identity"):
                return _identity(msi.get(*direct))
        except AzureNotFound:
            raise ConfigError(f"No user-assigned identity {direct[1]!r} in resource group "
                              f"{direct[0]} of subscription {azure.subscription_id}.",
                              ["Check the name and resource group ('az identity list -o "
                               "table')."]) from None
    with azure_errors("looking up the managed identity"):
        everything = list(msi.list_by_subscription())
    if ref.kind == "client_id":
        found = [i for i in everything if (i.client_id or "").lower() == ref.value]
        if not found:
            by_principal = [i for i in everything if (i.principal_id or "").lower() == ref.value]
            hint = (f"{ref.value} is the principalId of '{by_principal[0].name}'; pass its "
                    f"clientId {by_principal[0].client_id} (or its name)."
                    if by_principal else "Check the client id ('az identity list').")
            raise ConfigError(f"No user-assigned identity with client id {ref.value} in "
                              f"subscription {azure.subscription_id}.", [hint])
        return _identity(found[0])
    found = [i for i in everything if i.name.lower() == ref.value.lower()]
    if not found:
        raise ConfigError(f"No user-assigned identity named {ref.value!r} in subscription "
                          f"{azure.subscription_id}.",
                          ["Check the name ('az identity list -o table'), or pass the full "
                           "resource id."])
    if len(found) > 1:
        groups = ", ".join(sorted(i.id.split("/")[4] for i in found))
        raise UsageError(f"{len(found)} identities are named {ref.value!r} (resource groups: "
                         f"{groups}).",
                         ["Pick one with --identity-resource-group RG."])
    return _identity(found[0])


# -- issuer ---------------------------------------------------------------------------------------

def resolve_issuer(req: BindRequest, azure: AzureClients, kube: KubeClients,
                   state_cluster: tuple[str, str] | None) -> tuple[str, str]:
    if req.issuer:
        return req.issuer, "--issuer"
    cluster = (req.cluster, req.resource_group) if req.cluster else state_cluster
    if cluster:
        name, rg = cluster
        with azure_errors(f"reading AKS cluster {name}"):
            mc = azure.containerservice.managed_clusters.get(rg, name)
        profile = mc.oidc_issuer_profile
        if not profile or not profile.enabled or not profile.issuer_url:
            raise ConflictError(f"The OIDC issuer of AKS cluster {name} is off, so Entra cannot "
                                "trust its service-account tokens.",
                                [f"az aks update -g {rg} -n {name} --enable-oidc-issuer "
                                 "--enable-workload-identity"])
        return profile.issuer_url, f"AKS cluster {name}"
    with kube_errors("reading the cluster's OIDC discovery document"):
        raw = kube.well_known.get_service_account_issuer_open_id_configuration(
            _preload_content=False)
        try:
            doc = json.loads(raw.data)
        except ValueError:
            doc = {}
    issuer = doc.get("issuer") if isinstance(doc, dict) else None
    if not issuer:
        raise ConfigError("The cluster does not publish an OIDC issuer.",
                          ["Pass --issuer URL, or name the AKS cluster with --cluster and "
                           "--resource-group."])
    return issuer, "the API server's discovery document"


# -- federated credential ---------------------------------------------------------------------------

def _ensure_fic(req: BindRequest, azure: AzureClients, ident: Identity, issuer: str,
                subject: str, audience: str) -> Step:
    fics_api = azure.msi.federated_identity_credentials
    with azure_errors(f"listing the federated credentials of {ident.name}"):
        existing = list(fics_api.list(ident.resource_group, ident.name))
    for fic in existing:
        if fic.issuer == issuer and fic.subject == subject and list(fic.audiences or []) == [audience]:
            return Step("FederatedIdentityCredential", fic.name, "unchanged",
                        f"{issuer} → {subject}")
    same_pair = [f for f in existing if f.issuer == issuer and f.subject == subject]
    name = (same_pair[0].name if same_pair else
            req.fic_name or default_fic_name(req.cluster, req.namespace, req.service_account))
    updating = any(f.name.lower() == name.lower() for f in existing)
    if not updating and len(existing) >= MAX_FICS:
        names = ", ".join(sorted(f.name for f in existing))
        raise ConflictError(f"Identity {ident.name} already has {len(existing)} federated "
                            f"credentials, the most Azure allows: {names}.",
                            ["Remove one ('wi unbind' or 'az identity federated-credential "
                             "delete'), or use another identity."])
    action = "updated" if updating else "created"
    if req.dry_run:
        return Step("FederatedIdentityCredential", name, f"would be {action}",
                    f"{issuer} → {subject}")
    from azure.mgmt.msi.models import FederatedIdentityCredential

    body = FederatedIdentityCredential(issuer=issuer, subject=subject, audiences=[audience])
    retry_conflicts(lambda: fics_api.create_or_update(ident.resource_group, ident.name, name, body),
                    f"writing federated credential {name} on {ident.name}")
    return Step("FederatedIdentityCredential", name, action, f"{issuer} → {subject}")


# -- service account and pods ---------------------------------------------------------------------

def _namespace_exists(req: BindRequest, kube: KubeClients) -> bool:
    try:
        with kube_errors(f"reading namespace {req.namespace}"):
            kube.core.read_namespace(req.namespace)
        return True
    except KubernetesNotFound:
        return False


def _read_service_account(req: BindRequest, kube: KubeClients) -> Any | None:
    try:
        with kube_errors(f"reading service account {req.namespace}/{req.service_account}"):
            return kube.core.read_namespaced_service_account(req.service_account, req.namespace)
    except KubernetesNotFound:
        return None


def _check_preconditions(req: BindRequest, kube: KubeClients) -> tuple[bool, Any | None]:
    """Read-only checks done before anything is written: namespace and service account."""
    ns_exists = _namespace_exists(req, kube)
    if not ns_exists and not req.create_namespace:
        raise ConflictError(f"Namespace {req.namespace} does not exist.",
                            ["Create it, or pass --create-namespace --create."])
    sa = _read_service_account(req, kube) if ns_exists else None
    if sa is None and not req.create:
        raise ConflictError(f"Service account {req.namespace}/{req.service_account} does not "
                            "exist.",
                            [f"Create it ('kubectl create serviceaccount {req.service_account} "
                             f"-n {req.namespace}') or pass --create."])
    return ns_exists, sa


def _ensure_namespace(req: BindRequest, kube: KubeClients) -> Step:
    if req.dry_run:
        return Step("Namespace", req.namespace, "would be created")
    with kube_errors(f"creating namespace {req.namespace}"):
        kube.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": req.namespace}})
    return Step("Namespace", req.namespace, "created")


def _ensure_service_account(req: BindRequest, kube: KubeClients, ident: Identity,
                            sa: Any | None) -> tuple[Step, bool]:
    wanted = {WI_CLIENT_ID: ident.client_id, WI_TENANT_ID: ident.tenant_id}
    sa_name = f"{req.namespace}/{req.service_account}"
    if sa is None:
        if req.dry_run:
            return Step("ServiceAccount", sa_name, "would be created", "annotated"), True
        body = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": req.service_account, "namespace": req.namespace,
                             "annotations": wanted}}
        with kube_errors(f"creating service account {sa_name}"):
            kube.core.create_namespaced_service_account(req.namespace, body)
        return Step("ServiceAccount", sa_name, "created", "annotated with client-id and tenant-id"), True
    current = dict(sa.metadata.annotations or {})
    if all(current.get(k) == v for k, v in wanted.items()):
        return Step("ServiceAccount", sa_name, "unchanged", "annotations already set"), False
    if req.dry_run:
        return Step("ServiceAccount", sa_name, "would be updated", "client-id/tenant-id"), True
    with kube_errors(f"annotating service account {sa_name}"):
        kube.core.patch_namespaced_service_account(
            req.service_account, req.namespace, {"metadata": {"annotations": wanted}})
    return Step("ServiceAccount", sa_name, "updated", "annotated with client-id and tenant-id"), True


def _pod_needs_restart(pod: Any, client_id: str, sa_changed: bool) -> str | None:
    labels = pod.metadata.labels or {}
    if labels.get(WI_USE_LABEL) != "true":
        return f"missing the pod label {WI_USE_LABEL}: \"true\""
    if sa_changed:
        return "created before the service account was annotated"
    for c in pod.spec.containers or []:
        env = {e.name: e.value for e in (c.env or [])}
        if "AZURE_CLIENT_ID" not in env:
            return f"container {c.name} has no AZURE_CLIENT_ID"
        if env["AZURE_CLIENT_ID"] != client_id:
            return f"container {c.name} has a stale AZURE_CLIENT_ID"
    return None


def _deployment_of(kube: KubeClients, pod: Any) -> str | None:
    for ref in pod.metadata.owner_references or []:
        if ref.kind == "ReplicaSet":
            with kube_errors(f"reading replica set {ref.name}"):
                rs = kube.apps.read_namespaced_replica_set(ref.name, pod.metadata.namespace)
            for owner in rs.metadata.owner_references or []:
                if owner.kind == "Deployment":
                    return owner.name
    return None


def _pods(req: BindRequest, kube: KubeClients, ident: Identity, sa_changed: bool) -> list[Step]:
    with kube_errors(f"listing pods of {req.namespace}/{req.service_account}"):
        pods = kube.core.list_namespaced_pod(
            req.namespace, field_selector=f"spec.serviceAccountName={req.service_account}").items
    steps: list[Step] = []
    restarted: set[str] = set()
    for pod in pods:
        why = _pod_needs_restart(pod, ident.client_id, sa_changed)
        if not why:
            continue
        deployment = _deployment_of(kube, pod)
        if req.restart and deployment and not req.dry_run and "label" not in why:
            if deployment not in restarted:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                patch = {"spec": {"template": {"metadata": {"annotations": {
                    "kubectl.kubernetes.io/restartedAt": stamp}}}}}
                with kube_errors(f"restarting deployment {deployment}"):
                    kube.apps.patch_namespaced_deployment(deployment, req.namespace, patch)
                restarted.add(deployment)
                steps.append(Step("Deployment", f"{req.namespace}/{deployment}", "restarted", why))
            continue
        target = f"deployment {deployment}" if deployment else "bare pod: delete and re-create it"
        steps.append(Step("Pod", f"{req.namespace}/{pod.metadata.name}", "needs restart",
                          f"{why} ({target})"))
    return steps


# -- role assignments ---------------------------------------------------------------------------------

def _role_definition_id(azure: AzureClients, role: str, scope: str) -> tuple[str, str]:
    rds = azure.authorization.role_definitions
    with azure_errors(f"looking up role {role!r}"):
        if is_guid(role):
            rd = rds.get(scope, role)
            return rd.id, rd.role_name
        found = list(rds.list(scope, filter=f"roleName eq '{role}'"))
    if not found:
        raise ConfigError(f"No role named {role!r} at {scope}.",
                          ["Check the name ('az role definition list --name ROLE') or pass "
                           "the role's GUID."])
    return found[0].id, found[0].role_name


def _ensure_role(req: BindRequest, azure: AzureClients, ident: Identity, role: str,
                 scope: str) -> Step:
    rd_id, role_name = _role_definition_id(azure, role, scope)
    guid = rd_id.rstrip("/").rsplit("/", 1)[-1].lower()
    with azure_errors(f"listing role assignments at {scope}"):
        current = list(azure.authorization.role_assignments.list_for_scope(
            scope, filter=f"principalId eq '{ident.principal_id}'"))
    for ra in current:
        if ra.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() == guid and \
                ra.scope.rstrip("/").lower() == scope.rstrip("/").lower():
            return Step("RoleAssignment", f"{role_name} @ {scope}", "unchanged")
    if req.dry_run:
        return Step("RoleAssignment", f"{role_name} @ {scope}", "would be created")
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    params = RoleAssignmentCreateParameters(role_definition_id=rd_id,
                                            principal_id=ident.principal_id,
                                            principal_type="ServicePrincipal")
    with azure_errors(f"assigning {role_name} at {scope}"):
        azure.authorization.role_assignments.create(scope, str(uuid.uuid4()), params)
    return Step("RoleAssignment", f"{role_name} @ {scope}", "created")


# -- the command ------------------------------------------------------------------------------------

def bind(req: BindRequest, azure: AzureClients, kube: KubeClients,
         state_cluster: tuple[str, str] | None = None) -> BindOutcome:
    validate(req)
    ident = resolve_identity(azure, parse_identity(req.identity), req.identity_resource_group)
    issuer, issuer_source = resolve_issuer(req, azure, kube, state_cluster)
    subject = f"system:serviceaccount:{req.namespace}:{req.service_account}"
    audience = azure.cloud.fic_audience
    ns_exists, sa = _check_preconditions(req, kube)
    steps: list[Step] = []
    steps.append(_ensure_fic(req, azure, ident, issuer, subject, audience))
    try:
        if not ns_exists:
            steps.append(_ensure_namespace(req, kube))
        sa_step, sa_changed = _ensure_service_account(req, kube, ident, sa)
        steps.append(sa_step)
        steps.extend(_pods(req, kube, ident, sa_changed))
    except WiError as exc:
        if steps[0].action in ("created", "updated") and isinstance(exc, (KubernetesError,
                                                                          ConflictError,
                                                                          ConfigError)):
            raise KubernetesError(
                f"The federated credential {steps[0].name} was written, but the service "
                f"account could not be set up: {exc.message}",
                [*exc.remediation, "Run the same 'wi bind' command again to finish: it keeps "
                 "what is already done."]) from None
        raise
    for role, scope in req.roles:
        steps.append(_ensure_role(req, azure, ident, role, scope))
    return BindOutcome(ident, issuer, issuer_source, subject, audience, steps,
                       f"wi doctor -n {req.namespace} --service-account {req.service_account}",
                       req.dry_run)


def unbind(namespace: str, service_account: str, identity: str, azure: AzureClients,
           kube: KubeClients, identity_resource_group: str | None = None,
           dry_run: bool = False) -> list[Step]:
    check_namespace(namespace)
    check_service_account(service_account)
    ident = resolve_identity(azure, parse_identity(identity), identity_resource_group)
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    fics_api = azure.msi.federated_identity_credentials
    steps: list[Step] = []
    with azure_errors(f"listing the federated credentials of {ident.name}"):
        existing = list(fics_api.list(ident.resource_group, ident.name))
    for fic in existing:
        if fic.subject != subject:
            continue
        if not dry_run:
            retry_conflicts(lambda n=fic.name: fics_api.delete(ident.resource_group,
                                                                ident.name, n),
                            f"deleting federated credential {fic.name}")
        steps.append(Step("FederatedIdentityCredential", fic.name,
                          "would be deleted" if dry_run else "deleted", fic.issuer))
    sa_name = f"{namespace}/{service_account}"
    try:
        with kube_errors(f"reading service account {sa_name}"):
            sa = kube.core.read_namespaced_service_account(service_account, namespace)
    except KubernetesNotFound:
        steps.append(Step("ServiceAccount", sa_name, "unchanged", "not found"))
        return steps
    annotations = sa.metadata.annotations or {}
    if any(k in annotations for k in (WI_CLIENT_ID, WI_TENANT_ID)):
        if not dry_run:
            patch = {"metadata": {"annotations": {WI_CLIENT_ID: None, WI_TENANT_ID: None}}}
            with kube_errors(f"removing annotations from {sa_name}"):
                kube.core.patch_namespaced_service_account(service_account, namespace, patch)
        steps.append(Step("ServiceAccount", sa_name,
                          "would be updated" if dry_run else "updated",
                          "client-id/tenant-id annotations removed"))
    else:
        steps.append(Step("ServiceAccount", sa_name, "unchanged", "no workload identity annotations"))
    return steps


