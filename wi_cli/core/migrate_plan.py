"""`wi migrate`, step 2: what each pod-identity workload becomes.

Per workload: the identity its ``aadpodidbinding`` label gets today, the service account it will
use (its own unless it is ``default``, else a new one named after the workload, with the old
one's imagePullSecrets), the pod-template changes (the workload-identity label, the service
account, the proxy sidecar when it cannot use the token file), what is removed at the end, and
what wi cannot do for it (manual). The federated credential and service account steps are
`wi bind`'s own (:func:`wi_cli.core.bind.plan_bind`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bind import BindRequest, plan_bind
from .errors import CredentialError, ExitCode, WiError
from .migrate_detect import Inventory, foreign_pod, is_candidate, visible
from .models import (
    INJECT_PROXY_ANNOTATION,
    LEGACY_IMDS_ANNOTATION,
    POD_IDENTITY_LABEL,
    WI_USE_LABEL,
    AzureIdentity,
    AzureIdentityBinding,
    RoleBindingRef,
    ServiceAccount,
    ServiceAccountRef,
    Workload,
    template_json,
)
from .plan import FAILED, Step
from .ports import PodIdentityCluster
from .trust import Outcome, Ports, Target

MIGRATE, DONE, MANUAL, NO_IDENTITY = "migrate", "done", "manual", "no identity"


@dataclass
class Options:
    proxy: str = "auto"  # auto | always | never
    proxy_for: tuple[str, ...] = ()  # workload names (or KIND/NAME) that call IMDS themselves
    remove_pod_identity: bool = False


@dataclass
class WorkloadPlan:
    workload: Workload
    selector: str
    bindings: list[AzureIdentityBinding] = field(default_factory=list)
    identity: AzureIdentity | None = None
    service_account: str = ""
    new_service_account: bool = False
    image_pull_secrets: tuple[str, ...] = ()
    role_bindings: list[str] = field(default_factory=list)
    proxy: bool = False
    proxy_why: str = ""
    changes: list[str] = field(default_factory=list)
    template_patch: dict[str, Any] = field(default_factory=dict)
    removal: list[str] = field(default_factory=list)
    removable: bool = False  # the aadpodidbinding label can be removed from the template
    prepare_only: bool = False  # manual re-creation: wi writes the credential and SA only
    state: str = MIGRATE
    manual: str | None = None
    bind: Outcome | None = None
    # the steps, in the order they run (shared ones, as a service account's, are one object)
    credential: list[Step] = field(default_factory=list)
    exchange: Step | None = None
    backup: Step | None = None
    rollout: list[Step] = field(default_factory=list)  # template patch, then its rollout
    removal_steps: list[Step] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        return [*self.credential, *([self.exchange] if self.exchange else []),
                *([self.backup] if self.backup else []), *self.rollout, *self.removal_steps]

    @property
    def stopped(self) -> bool:
        return any(s.status == FAILED for s in self.steps)

    @property
    def ref(self) -> ServiceAccountRef:
        return ServiceAccountRef(self.workload.namespace, self.service_account)

    def to_json(self) -> dict[str, Any]:
        w, ident = self.workload, self.identity
        return {
            "kind": w.kind, "namespace": w.namespace, "name": w.name, "state": self.state,
            "selector": self.selector or None,
            "bindings": [b.label for b in self.bindings],
            "identity": None if ident is None else {
                "azure_identity": ident.label, "kind": ident.kind_text,
                "resource_id": ident.resource_id or None, "client_id": ident.client_id or None},
            "service_account": {"name": self.service_account or None,
                                "new": self.new_service_account,
                                "from": w.service_account,
                                "image_pull_secrets": list(self.image_pull_secrets),
                                "old_role_bindings": list(self.role_bindings)},
            "proxy": {"inject": self.proxy, "why": self.proxy_why or None},
            "template_changes": list(self.changes), "removal": list(self.removal),
            "manual": self.manual,
            "steps": [s.to_json() for s in self.steps],
        }


def _identity(p: WorkloadPlan, inv: Inventory) -> None:
    w = p.workload
    found: dict[str, AzureIdentity] = {}
    missing = []
    for b in inv.bindings:
        if b.selector != p.selector:
            continue
        ident = inv.identity(b.namespace, b.azure_identity)
        if not visible(b, ident, w.namespace, inv):
            continue
        p.bindings.append(b)
        if ident is None:
            missing.append(f"{b.namespace}/{b.azure_identity}")
        else:
            found[(ident.resource_id or ident.client_id or ident.label).lower()] = ident
    if not p.bindings:
        p.state = NO_IDENTITY
        p.manual = None
        return
    if missing:
        _manual(p, f"AzureIdentityBinding {p.bindings[0].label} names AzureIdentity "
                   f"{', '.join(missing)}, which does not exist: pod identity gives it nothing "
                   "today; fix or remove the label by hand.")
    elif len(found) > 1:
        _manual(p, f"its selector {p.selector} is bound to {len(found)} identities "
                   f"({', '.join(sorted(i.label for i in found.values()))}), and a service "
                   "account carries one client id: give each identity its own workload or "
                   "service account, then re-run.")
    else:
        p.identity = next(iter(found.values()))
        if not p.identity.user_assigned:
            _manual(p, f"AzureIdentity {p.identity.label} is a {p.identity.kind_text}: wi moves "
                       "managed identities only. Add a federated credential to app registration "
                       f"{p.identity.client_id or '(its client id)'} ('az ad app "
                       "federated-credential create --id APP_ID --parameters ...' with this "
                       "cluster's issuer and the pod's service account), annotate the service "
                       "account with that client id, and label the pod template "
                       f"{WI_USE_LABEL}=true.")
        elif not (p.identity.resource_id or p.identity.client_id):
            _manual(p, f"AzureIdentity {p.identity.label} has neither resourceID nor clientID.")


def _manual(p: WorkloadPlan, why: str) -> None:
    """The first reason wins, except over a re-creation wi would prepare for."""
    if p.manual is None:
        p.state, p.manual = MANUAL, why
    elif p.prepare_only:
        p.prepare_only, p.manual = False, why


def _kind_limits(p: WorkloadPlan) -> None:
    w = p.workload
    p.prepare_only = w.kind in ("Job", "Pod")
    if w.kind == "Job":
        finished = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                       for c in (w.raw.get("status") or {}).get("conditions") or [])
        _manual(p, "a Job's pod template cannot change: " + (
            "it has finished; run it again from the manifest --write-manifests writes."
            if finished else "let it finish, then run it again from the manifest "
                             "--write-manifests writes."))
    elif w.kind == "Pod":
        _manual(p, "a pod's service account cannot change: delete it and create it again from "
                   "the manifest --write-manifests writes (or move it into a Deployment).")


def _wants_proxy(p: WorkloadPlan, opts: Options) -> None:
    w = p.workload
    names = {w.name, f"{w.kind.lower()}/{w.name}", f"{w.namespace}/{w.name}"}
    flagged = any(n.lower() in names for n in opts.proxy_for)
    annotated = "true" in ((w.metadata.annotations.get(LEGACY_IMDS_ANNOTATION) or "").lower(),
                           (w.template.metadata.annotations.get(LEGACY_IMDS_ANNOTATION)
                            or "").lower())
    if opts.proxy == "always":
        p.proxy, p.proxy_why = True, "--proxy always"
    elif opts.proxy == "auto" and flagged:  # it calls IMDS itself
        p.proxy, p.proxy_why = True, "named with --proxy-for"
    elif opts.proxy == "auto" and annotated:
        p.proxy, p.proxy_why = True, f'annotated {LEGACY_IMDS_ANNOTATION}: "true"'
    if not p.proxy:
        return
    spec = w.template.spec
    if spec.host_network:
        _manual(p, "it needs the proxy sidecar (it calls IMDS), which the webhook refuses to "
                   "inject with hostNetwork: true; move it off the host network, or have it "
                   "read the token file (an Azure SDK with workload identity support).")
    elif (spec.os and spec.os.name == "windows") or \
            spec.node_selector.get("kubernetes.io/os") == "windows":
        _manual(p, "it needs the proxy sidecar (it calls IMDS), whose images are Linux-only; "
                   "have it read the token file instead.")


def _service_account(p: WorkloadPlan, accounts: dict[tuple[str, str], ServiceAccount],
                     bindings: list[RoleBindingRef]) -> None:
    w = p.workload
    current = w.service_account
    p.service_account = w.name if current == "default" else current
    existing = accounts.get((w.namespace, p.service_account))
    p.new_service_account = existing is None
    if current == "default":
        old = accounts.get((w.namespace, "default"))
        if p.new_service_account and old is not None:
            p.image_pull_secrets = tuple(r.name for r in old.image_pull_secrets if r.name)
        p.role_bindings = [b.label for b in bindings if b.grants(w.namespace, "default")]
    client_id = existing.client_id.lower() if existing is not None else ""
    if client_id and p.identity is not None and client_id != p.identity.client_id.lower() \
            and p.identity.client_id:
        _manual(p, f"service account {w.namespace}/{p.service_account} is already bound to "
                   f"client id {client_id}, not {p.identity.label}'s {p.identity.client_id}.")


def _template(p: WorkloadPlan, opts: Options) -> None:
    t = p.workload.template
    labels, annotations = t.metadata.labels, t.metadata.annotations
    patch: dict[str, Any] = {}
    if labels.get(WI_USE_LABEL) != "true":
        patch.setdefault("metadata", {}).setdefault("labels", {})[WI_USE_LABEL] = "true"
        p.changes.append(f'label {WI_USE_LABEL}: "true"')
    if p.workload.service_account != p.service_account:
        spec = {"serviceAccountName": p.service_account}
        if "serviceAccount" in _template_spec(p.workload):
            spec["serviceAccount"] = p.service_account  # the deprecated alias, if set
        patch["spec"] = spec
        p.changes.append(f"serviceAccountName: {p.service_account}")
    if p.proxy and INJECT_PROXY_ANNOTATION not in annotations:
        patch.setdefault("metadata", {}).setdefault("annotations", {})[
            INJECT_PROXY_ANNOTATION] = "true"
        p.changes.append(f'annotation {INJECT_PROXY_ANNOTATION}: "true" ({p.proxy_why})')
    p.template_patch = patch
    later = "" if opts.remove_pod_identity else " (with --remove-pod-identity)"
    selector = p.workload.selector
    in_selector = selector is not None and (
        POD_IDENTITY_LABEL in selector.match_labels
        or any(r.key == POD_IDENTITY_LABEL for r in selector.match_expressions))
    if in_selector:
        p.removal.append(f"not the label {POD_IDENTITY_LABEL}: the {p.workload.kind}'s selector "
                         "(immutable) uses it; re-create the workload without it by hand")
    elif p.selector:
        p.removable = True
        p.removal.append(f"label {POD_IDENTITY_LABEL}: {p.selector}{later}")


def _template_spec(w: Workload) -> dict[str, Any]:
    return template_json(w.kind, w.raw).get("spec") or {}


def _foreign_owners(inv: Inventory) -> list[WorkloadPlan]:
    """Labelled pods whose owner wi does not migrate: one manual entry per owner, never
    skipped in silence."""
    seen: dict[tuple[str, str, str], WorkloadPlan] = {}
    for w in inv.workloads:
        selector = w.template.metadata.labels.get(POD_IDENTITY_LABEL)
        if not selector or not inv.in_scope(w.namespace) or not foreign_pod(w, inv.workloads):
            continue
        owner = w.metadata.controller
        assert owner is not None
        key = (w.namespace, owner.kind, owner.name)
        if key not in seen:
            stand_in = Workload(owner.kind, w.namespace, owner.name, w.template)
            seen[key] = WorkloadPlan(stand_in, selector, state=MANUAL, manual=(
                f"its pods carry {POD_IDENTITY_LABEL}: {selector}, and wi migrates "
                "Deployments, StatefulSets, DaemonSets, CronJobs, Jobs and bare pods only: add "
                f'the label {WI_USE_LABEL}: "true" and a bound service account to its pod '
                "template by hand."))
    return list(seen.values())


def _shared_accounts(plans: list[WorkloadPlan]) -> None:
    """A service account shared by workloads bound to different identities cannot carry two
    client ids."""
    by_account: dict[tuple[str, str], list[WorkloadPlan]] = {}
    for p in plans:
        if p.state == MIGRATE and p.identity is not None:
            by_account.setdefault((p.workload.namespace, p.service_account), []).append(p)
    for (ns, sa), group in by_account.items():
        ids = {p.identity.client_id or p.identity.resource_id for p in group if p.identity}
        if len(ids) > 1:
            names = ", ".join(sorted(p.workload.label for p in group))
            for p in group:
                _manual(p, f"service account {ns}/{sa} is shared by workloads bound to "
                           f"different identities ({names}) and can carry one client id: give "
                           "them their own service accounts, then re-run.")


def plan_workloads(ports: Ports, kube: PodIdentityCluster, inv: Inventory, opts: Options,
                   target: Target) -> list[WorkloadPlan]:
    plans = []
    accounts: dict[tuple[str, str], ServiceAccount] = {}
    rbac: dict[str, list[RoleBindingRef]] = {}
    for w in sorted((w for w in inv.workloads if is_candidate(w, inv)),
                    key=lambda w: (w.namespace, w.kind, w.name)):
        p = WorkloadPlan(w, w.template.metadata.labels.get(POD_IDENTITY_LABEL) or "")
        plans.append(p)
        if not p.selector:  # migrated by wi, its pod identity label removed
            p.state = DONE
            before = str(inv.backups[w.namespace][w.key].get("selector") or "")
            p.bindings = [b for b in inv.bindings if b.selector == before and
                          visible(b, inv.identity(b.namespace, b.azure_identity), w.namespace,
                                  inv)]
            continue
        _identity(p, inv)
        if p.state != MIGRATE:
            continue
        _kind_limits(p)
        _wants_proxy(p, opts)
        if w.namespace not in rbac:
            for sa in kube.service_accounts(w.namespace):
                accounts[(w.namespace, sa.metadata.name)] = sa
            rbac[w.namespace] = _role_bindings(kube, w.namespace, inv)
        _service_account(p, accounts, rbac[w.namespace])
        _template(p, opts)
    _shared_accounts(plans)
    plans += _foreign_owners(inv)
    for p in plans:
        if (p.state == MIGRATE or p.prepare_only) and p.identity is not None:
            _plan_bind(p, ports, target)
    return plans


def _role_bindings(kube: PodIdentityCluster, namespace: str,
                   inv: Inventory) -> list[RoleBindingRef]:
    try:
        return kube.role_bindings(namespace)
    except WiError as exc:
        note = f"Could not list RoleBindings ({exc.message}): the plan cannot say which " \
               "permissions a new service account lacks."
        if note not in inv.notes:
            inv.notes.append(note)
        return []


def _plan_bind(p: WorkloadPlan, ports: Ports, target: Target) -> None:
    """`wi bind SA IDENTITY -n NS --create`: its reads, checks and steps (not applied here)."""
    ident = p.identity
    assert ident is not None
    req = BindRequest(p.service_account, ident.resource_id or ident.client_id,
                      p.workload.namespace, create=True,
                      image_pull_secrets=p.image_pull_secrets)
    try:
        p.bind = plan_bind(req, ports, target)
    except WiError as exc:
        refused = exc.exit_code in (ExitCode.CONFIG, ExitCode.CONFLICT) or \
            getattr(exc, "status", None) == 403
        if not refused or isinstance(exc, CredentialError):
            raise  # no credentials, unreachable, throttled: nothing is written yet, stop here
        p.prepare_only = False
        p.state, p.manual = MANUAL, exc.message
        return
    if p.bind.identity.client_id and ident.client_id and \
            p.bind.identity.client_id.lower() != ident.client_id.lower():
        _manual(p, f"AzureIdentity {ident.label} says client id {ident.client_id}, but "
                   f"{ident.resource_id} has client id {p.bind.identity.client_id}: fix the "
                   "AzureIdentity, then re-run.")

