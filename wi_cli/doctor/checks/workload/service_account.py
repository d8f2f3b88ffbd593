"""Workload checks of the service account: it exists, and its client-id, tenant-id and
token-expiration annotations are what the webhook needs."""

from __future__ import annotations

import re
from typing import Any

from ....core.models import WI_CLIENT_ID, WI_TENANT_ID, Identity, Service
from ....core.names import is_guid
from ...facts.workloads import Workload
from ...registry import Report, check
from ...targets import of_service_account
from .common import (
    DOCS,
    TOKEN_EXPIRATION,
    WorkloadView,
    annotate_sa,
    near_misses,
    patch_template,
    recreate_pod,
)

MIN_EXPIRATION, MAX_EXPIRATION = 3600, 86400
_GO_INT = re.compile(r"[+-]?[0-9]+")
_IDENTITY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")
_TENANT_CHARS = re.compile(r"^[A-Za-z0-9.-]+$")  # azure-identity's VALID_TENANT_ID_CHARACTERS


@check("workload.service-account", "Service account exists", layer="workload",
       failure_modes=(8,), docs=DOCS)
def service_account_exists(report: Report, workload_view: WorkloadView) -> None:
    view = workload_view
    for ns, sa in view.subjects:
        report = report.about(of_service_account(ns, sa))
        if view.service_account(ns, sa) is not None:
            report.ok(f"ServiceAccount {ns}/{sa} exists.")
            continue
        users = [w.ref for w in view.workloads_of(ns, sa)]
        users += [f"pod {ns}/{p.metadata.name}" for p in view.pods_of(ns, sa)
                  if view.owner_of(p) is not None]
        named = ", ".join(users) if users else "--service-account"
        report.fail(f"ServiceAccount {ns}/{sa} does not exist (used by {named}): new pods are "
                    "refused and no identity can be bound to it.",
                    expected=f"ServiceAccount {ns}/{sa}", actual=None,
                    fix="Create the service account and bind it to the identity (or fix "
                        "serviceAccountName), then restart the workload.",
                    commands=[f"kubectl create serviceaccount {sa} -n {ns}",
                              f"wi bind {sa} IDENTITY -n {ns}"])


# -- client-id -------------------------------------------------------------------------------------

def _selects(service: Service, workloads: list[Workload]) -> bool:
    selector = service.spec.selector
    return bool(selector) and any(all(w.labels.get(k) == v for k, v in selector.items())
                                  for w in workloads)


def _client_id_elsewhere(view: WorkloadView, ns: str, sa: str,
                         services: list[Service]) -> dict[str, dict[str, str]]:
    """Client-id-like annotations on the SA's pods and Deployments, and on Services named like
    the SA or selecting its pods."""
    found: dict[str, dict[str, str]] = {}
    workloads = view.workloads_of(ns, sa)
    pods = [Workload("Pod", ns, p.metadata.name, p.metadata.labels, {}, p.spec)
            for p in view.pods_of(ns, sa)]
    for svc in services:
        if svc.metadata.name == sa or _selects(svc, workloads + pods):
            keys = near_misses(svc.metadata.annotations, "", "clientid")
            if keys:
                found[f"service {ns}/{svc.metadata.name}"] = keys
    for w in workloads:
        keys = near_misses(w.annotations, "", "clientid")
        if keys:
            found[w.ref] = keys
    return found


def _bind_target(value: str) -> str:
    return value if _IDENTITY_NAME.match(value) and not is_guid(value) else "IDENTITY"


@check("workload.client-id", "Client-id annotation on the service account", layer="workload",
       failure_modes=(7, 9), docs=DOCS)
def client_id(report: Report, workload_view: WorkloadView, services: list[Service]) -> None:
    view = workload_view
    by_namespace: dict[str, list[Service]] = {}
    for svc in services:
        by_namespace.setdefault(svc.metadata.namespace or "", []).append(svc)
    for ns, sa, obj in view.existing():
        report = report.about(of_service_account(ns, sa))
        annotations = obj.metadata.annotations
        value = annotations.get(WI_CLIENT_ID)
        again = view.restart(view.pods_of(ns, sa))
        if value is not None and is_guid(value.strip()):
            report.ok(f"{ns}/{sa}: client-id {value.strip()}.")
            continue
        typos = near_misses(annotations, WI_CLIENT_ID, "clientid")
        elsewhere = _client_id_elsewhere(view, ns, sa, by_namespace.get(ns, []))
        actual: dict[str, Any] = {WI_CLIENT_ID: value, **({"near-miss keys": typos} if typos
                                                          else {})}
        if elsewhere:
            actual["on other objects"] = elsewhere
        expected = f"{WI_CLIENT_ID}: the identity's client id (a GUID)"
        if value is not None and value.strip():
            report.fail(f"{ns}/{sa}: client-id {value!r} is not a GUID: AZURE_CLIENT_ID is "
                        "useless and the token exchange fails (AADSTS700016).",
                        expected=expected, actual=actual,
                        fix="Bind the service account to the identity by name, which writes its "
                            "client id (not its name or principal id), then restart the pods.",
                        commands=[f"wi bind {sa} {_bind_target(value.strip())} -n {ns}", *again])
            continue
        _report_missing_client_id(report, ns, sa, value, typos, elsewhere, expected, actual, again)


def _report_missing_client_id(report: Report, ns: str, sa: str, value: str | None,
                              typos: dict[str, str], elsewhere: dict[str, dict[str, str]],
                              expected: str, actual: dict[str, Any], again: list[str]) -> None:
    guesses = [v.strip() for v in list(typos.values()) + [v for keys in elsewhere.values()
                                                           for v in keys.values()]
               if is_guid(v.strip())]
    set_it = (annotate_sa(ns, sa, WI_CLIENT_ID, guesses[0]) if guesses
              else f"wi bind {sa} IDENTITY -n {ns}")
    removals = [annotate_sa(ns, sa, k, None) for k in typos]
    removals += [f"kubectl annotate service {where.rsplit('/', 1)[1]} -n {ns} {k}-"
                 for where, keys in elsewhere.items() if where.startswith("service ")
                 for k in keys]
    if typos or elsewhere:
        places = [f"key {k!r} on the service account" for k in typos]
        places += list(elsewhere)
        summary = (f"{ns}/{sa}: no {WI_CLIENT_ID} annotation, but a near miss is there "
                   f"({'; '.join(places)}): the webhook reads only the exact key on the "
                   "service account, so AZURE_CLIENT_ID is not injected.")
    elif value is not None:
        summary = (f"{ns}/{sa}: the {WI_CLIENT_ID} annotation is empty: AZURE_CLIENT_ID is not "
                   "injected.")
    else:
        summary = (f"{ns}/{sa}: no {WI_CLIENT_ID} annotation: AZURE_CLIENT_ID is not "
                   "injected.")
    report.fail(summary, expected=expected, actual=actual,
                fix="Put the identity's client id under the exact key on the service account "
                    "(wi bind does it), remove the misplaced keys, then restart the pods.",
                commands=[set_it, *removals, *again])


# -- tenant-id -------------------------------------------------------------------------------------

def tenant_problem(value: str, identity_tenant: str) -> str | None:
    """What is wrong with a tenant-id annotation, or None. A tenant is a GUID or a domain name
    (Entra docs; azure-identity accepts [A-Za-z0-9.-]); a GUID must be the identity's tenant."""
    if not value:
        return "is empty: AZURE_TENANT_ID is not injected at all"
    if not _TENANT_CHARS.match(value):
        return (f"{value!r} is not a tenant id or domain: the SDK refuses it and Entra answers "
                "AADSTS900023")
    if is_guid(value) and identity_tenant and value.lower() != identity_tenant.lower():
        return (f"names tenant {value}, but the identity lives in tenant {identity_tenant}: "
                "Entra answers AADSTS700016 (no such client in that tenant)")
    return None


@check("workload.tenant-id", "Tenant-id annotation valid", layer="workload",
       failure_modes=(11, 42), docs=DOCS)
def tenant_id(report: Report, workload_view: WorkloadView,
              identities_by_client_id: dict[str, Identity] | None = None) -> None:
    view = workload_view
    for ns, sa, obj in view.existing():
        report = report.about(of_service_account(ns, sa))
        annotations = obj.metadata.annotations
        again = view.restart(view.pods_of(ns, sa))
        typos = near_misses(annotations, WI_TENANT_ID, "tenantid")
        if WI_TENANT_ID not in annotations:
            if typos:
                report.warn(f"{ns}/{sa}: tenant-id is under a wrong key ({', '.join(typos)}), "
                            "so the webhook's default tenant is used.",
                            expected=WI_TENANT_ID, actual=sorted(typos),
                            fix="Rename the key (or drop it if the identity is in the cluster's "
                                "tenant).",
                            commands=[annotate_sa(ns, sa, k, None) for k in typos])
            else:
                report.ok(f"{ns}/{sa}: no tenant-id annotation; the webhook's tenant applies.")
            continue
        value = annotations[WI_TENANT_ID].strip()
        ident = (identities_by_client_id or {}).get(obj.client_id.lower())
        own = ident.tenant_id if ident is not None else ""
        problem = tenant_problem(value, own)
        if problem is None:
            hint = ("" if is_guid(value) else " (a domain name, which Entra accepts; the tenant "
                    "GUID avoids the lookup)")
            report.ok(f"{ns}/{sa}: tenant-id {value}{hint}.")
            continue
        report.fail(f"{ns}/{sa}: the {WI_TENANT_ID} annotation {problem}.",
                    expected=own or "a tenant GUID or domain name (or no annotation: the "
                                    "cluster's tenant)",
                    actual={WI_TENANT_ID: annotations[WI_TENANT_ID]},
                    fix=(f"Set it to the identity's tenant ({own}), then restart the pods."
                         if own else "Set it to the identity's tenant, or remove it so the "
                         "webhook's tenant applies, then restart the pods."),
                    commands=[annotate_sa(ns, sa, WI_TENANT_ID, own or None), *again])


# -- token expiration ------------------------------------------------------------------------------

def expiration_problem(raw: str) -> str | None:
    if not _GO_INT.fullmatch(raw):
        return f"{raw!r} is not a whole number of seconds"
    if not MIN_EXPIRATION <= int(raw) <= MAX_EXPIRATION:
        return f"{int(raw)} is outside {MIN_EXPIRATION}-{MAX_EXPIRATION}"
    return None


def _expiration_fix(w: Workload) -> list[str]:
    if w.is_deployment:
        return [patch_template(w, {"metadata": {"annotations": {TOKEN_EXPIRATION: "3600"}}})]
    return [f"kubectl annotate pod {w.name} -n {w.namespace} {TOKEN_EXPIRATION}=3600 "
            "--overwrite", recreate_pod(w.namespace, w.name)]


@check("workload.token-expiration", "Token expiration annotation in range", layer="workload",
       failure_modes=(41,), docs=DOCS)
def token_expiration(report: Report, workload_view: WorkloadView) -> None:
    view = workload_view
    for ns, sa, obj in view.existing():
        report = report.about(of_service_account(ns, sa))
        places: list[tuple[str, str, list[str]]] = []
        raw = obj.metadata.annotations.get(TOKEN_EXPIRATION)
        if raw is not None:
            places.append((f"serviceaccount {ns}/{sa}", raw,
                           [annotate_sa(ns, sa, TOKEN_EXPIRATION, "3600")]))
        for w in view.workloads_of(ns, sa):
            if TOKEN_EXPIRATION in w.annotations:
                places.append((w.ref, w.annotations[TOKEN_EXPIRATION], _expiration_fix(w)))
        if not places:
            report.ok(f"{ns}/{sa}: default token lifetime (3600 s).")
        for where, value, commands in places:
            problem = expiration_problem(value)
            if problem is None:
                report.ok(f"{where}: token lifetime {value} s.")
                continue
            report.fail(f"{where}: {TOKEN_EXPIRATION} {problem}: the webhook refuses its pods "
                        "(\"token expiration ... not valid\").",
                        expected=f"{MIN_EXPIRATION}..{MAX_EXPIRATION}", actual=value,
                        fix="Use a value between 3600 and 86400 seconds (or remove the "
                            "annotation for the default 3600).", commands=commands)
