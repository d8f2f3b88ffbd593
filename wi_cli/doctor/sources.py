"""The shared facts: what the cluster (ARM + Kubernetes), the workloads and the identities look
like. Each provider makes the fewest calls it can (one list per namespace, one per identity)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from ..adapters.azure.errors import azure_errors
from ..adapters.kube.client import kube_errors
from ..core.errors import AzureNotFound, KubernetesNotFound
from ..core.models import (
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAMESPACES,
    WI_TOKEN_VOLUMES,
    expected_audience,
)
from ..core.names import WI_CLIENT_ID, WI_USE_LABEL
from .facts import Facts, fact

WEBHOOK_CONFIG = "azure-wi-webhook-mutating-webhook-configuration"
WEBHOOK_SERVICE = "azure-wi-webhook-webhook-service"
WEBHOOK_CONFIGMAP = "azure-wi-webhook-config"


# -- reachability ------------------------------------------------------------------------------------

@fact("kube_version")
def kube_version(facts: Facts) -> str:
    from kubernetes import client

    kube = facts.ctx.kube
    with kube_errors("reading the Kubernetes version", kube.server):
        return client.VersionApi(kube.api_client).get_code().git_version


@fact("azure_access")
def azure_access(facts: Facts) -> bool | None:
    azure = facts.ctx.azure
    if azure is None:
        return None
    with azure_errors("signing in to Azure"):
        azure.credential.get_token(azure.cloud.arm_scope)
    return True


# -- the cluster -------------------------------------------------------------------------------------

@fact("api_issuer")
def api_issuer(facts: Facts) -> str | None:
    """The issuer the API server puts in service-account tokens (its discovery document)."""
    kube = facts.ctx.kube
    try:
        with kube_errors("reading the API server's OIDC discovery document", kube.server):
            raw = kube.well_known.get_service_account_issuer_open_id_configuration(
                _preload_content=False)
    except KubernetesNotFound:
        return None
    try:
        return json.loads(raw.data).get("issuer")
    except ValueError:
        return None


@fact("aks")
def aks(facts: Facts) -> dict[str, Any]:
    """The AKS record of this cluster: {"cluster": ManagedCluster | None, "how": str}."""
    azure = facts.ctx.azure
    scope = facts.scope
    if azure is None:
        return {"cluster": None, "how": "no Azure subscription configured"}
    named = ((scope.cluster, scope.resource_group) if scope.cluster
             else facts.ctx.state_cluster)
    mcs = azure.containerservice.managed_clusters
    if named:
        name, rg = named
        try:
            with azure_errors(f"reading AKS cluster {name}"):
                return {"cluster": mcs.get(rg, name),
                        "how": "named on the command line" if scope.cluster else
                        "from the 'wi provision' state"}
        except AzureNotFound:
            return {"cluster": None, "how": f"AKS cluster {name} in {rg} not found"}
    issuer = facts["api_issuer"]
    server_host = urlsplit(facts.ctx.kube.server).netloc.lower()
    with azure_errors("listing AKS clusters"):
        clusters = list(mcs.list())
    for mc in clusters:
        profile = mc.oidc_issuer_profile
        if issuer and profile and profile.issuer_url == issuer:
            return {"cluster": mc, "how": "its OIDC issuer matches the API server's"}
    for mc in clusters:
        if mc.fqdn and mc.fqdn.lower() in server_host:
            return {"cluster": mc, "how": "its FQDN matches the kubeconfig server"}
    return {"cluster": None, "how": "no AKS cluster matches this API server (not AKS?)"}


# -- Kubernetes objects in scope -------------------------------------------------------------------

@fact("namespaces")
def namespaces(facts: Facts) -> list[Any]:
    kube = facts.ctx.kube
    with kube_errors("listing namespaces", kube.server):
        return kube.core.list_namespace().items


@fact("namespaces_in_scope")
def namespaces_in_scope(facts: Facts) -> list[str]:
    if facts.scope.all_namespaces:
        return [ns.metadata.name for ns in facts["namespaces"]]
    return [facts.scope.namespace]


def _list_in_scope(facts: Facts, what: str, namespaced: str, everywhere: str) -> list[Any]:
    kube = facts.ctx.kube
    api = kube.apps if what in ("deployments", "replicasets") else kube.core
    with kube_errors(f"listing {what}", kube.server):
        if facts.scope.all_namespaces:
            return getattr(api, everywhere)().items
        return getattr(api, namespaced)(facts.scope.namespace).items


@fact("service_accounts")
def service_accounts(facts: Facts) -> list[Any]:
    return _list_in_scope(facts, "service accounts", "list_namespaced_service_account",
                          "list_service_account_for_all_namespaces")


@fact("pods")
def pods(facts: Facts) -> list[Any]:
    return _list_in_scope(facts, "pods", "list_namespaced_pod", "list_pod_for_all_namespaces")


@fact("deployments")
def deployments(facts: Facts) -> list[Any]:
    return _list_in_scope(facts, "deployments", "list_namespaced_deployment",
                          "list_deployment_for_all_namespaces")


@fact("services")
def services(facts: Facts) -> list[Any]:
    return _list_in_scope(facts, "services", "list_namespaced_service",
                          "list_service_for_all_namespaces")


@fact("subjects")
def subjects(facts: Facts) -> list[tuple[str, str]]:
    """(namespace, service account) pairs doctor examines: the one asked for; else every SA that
    carries a workload-identity annotation or is used by a pod labelled for workload identity."""
    scope = facts.scope
    if scope.service_account:
        return [(scope.namespace, scope.service_account)]
    found: dict[tuple[str, str], None] = {}
    for sa in facts["service_accounts"]:
        annotations = sa.metadata.annotations or {}
        if any(k.startswith("azure.workload.identity/") for k in annotations):
            found[(sa.metadata.namespace, sa.metadata.name)] = None
    for pod in facts["pods"]:
        if (pod.metadata.labels or {}).get(WI_USE_LABEL) == "true":
            found[(pod.metadata.namespace, pod.spec.service_account_name or "default")] = None
    return sorted(found)


@fact("service_accounts_by_key")
def service_accounts_by_key(facts: Facts) -> dict[tuple[str, str], Any]:
    """The service accounts in scope by (namespace, name): lookups stay O(1) at 2,000 SAs."""
    return {(sa.metadata.namespace, sa.metadata.name): sa for sa in facts["service_accounts"]}


def service_account(facts: Facts, namespace: str, name: str) -> Any | None:
    return facts["service_accounts_by_key"].get((namespace, name))


@fact("pods_by_service_account")
def pods_by_service_account(facts: Facts) -> dict[tuple[str, str], list[Any]]:
    """The pods in scope by (namespace, service account): lookups stay O(1) at thousands."""
    index: dict[tuple[str, str], list[Any]] = {}
    for pod in facts["pods"]:
        key = (pod.metadata.namespace, pod.spec.service_account_name or "default")
        index.setdefault(key, []).append(pod)
    return index


def pods_of(facts: Facts, namespace: str, name: str) -> list[Any]:
    return facts["pods_by_service_account"].get((namespace, name), [])


# -- the webhook ----------------------------------------------------------------------------------

@fact("webhook")
def webhook(facts: Facts) -> dict[str, Any]:
    """The add-on/Helm webhook objects: configuration, deployments, endpoints, config map."""
    from kubernetes import client

    kube = facts.ctx.kube
    admission = client.AdmissionregistrationV1Api(kube.api_client)
    with kube_errors("listing mutating webhook configurations", kube.server):
        configs = admission.list_mutating_webhook_configuration().items
    out: dict[str, Any] = {"configs": configs, "deployments": {}, "endpoints": {},
                           "configmaps": {}}

    def read(ns: str) -> None:
        for key, call in (("deployments", lambda: kube.apps.read_namespaced_deployment(
                                WEBHOOK_DEPLOYMENT, ns)),
                          ("endpoints", lambda: kube.core.read_namespaced_endpoints(
                                WEBHOOK_SERVICE, ns)),
                          ("configmaps", lambda: kube.core.read_namespaced_config_map(
                                WEBHOOK_CONFIGMAP, ns))):
            try:
                with kube_errors(f"reading the webhook {key} in {ns}", kube.server):
                    out[key][ns] = call()
            except KubernetesNotFound:
                pass

    facts.map(read, WEBHOOK_NAMESPACES)
    return out


@fact("token_audience")
def token_audience(facts: Facts) -> dict[str, str]:
    """The audience this cluster's projected tokens carry, so credentials are compared with what
    the pods really present: {"audience", "source"}."""
    webhook = facts.get("webhook") or {}
    args = [list(c.args or []) for dep in (webhook.get("deployments") or {}).values()
            for c in (dep.spec.template.spec.containers or [])]
    audiences = [src.service_account_token.audience
                 for pod in facts.get("pods") or []
                 if (pod.metadata.labels or {}).get(WI_USE_LABEL) == "true"
                 for vol in pod.spec.volumes or []
                 if vol.projected and (vol.name == WI_TOKEN_VOLUMES[0]
                                       or vol.name.startswith(WI_TOKEN_VOLUMES[1]))
                 for src in vol.projected.sources or [] if src.service_account_token]
    audience, source = expected_audience(args, audiences)
    return {"audience": audience, "source": source}


def audience_of(facts: Facts) -> str:
    return facts["token_audience"]["audience"]


# -- identities, federated credentials, role assignments -------------------------------------------

@fact("identities")
def identities(facts: Facts) -> list[Any]:
    azure = facts.ctx.azure
    if azure is None:
        return []
    with azure_errors("listing user-assigned identities"):
        return list(azure.msi.user_assigned_identities.list_by_subscription())


@fact("client_ids_in_scope")
def _client_ids_in_scope(facts: Facts) -> set[str]:
    """Client ids the service accounts in scope are annotated with. Read from the service
    accounts alone (not from `subjects`, which also waits for the pod list), so the identity
    calls can start as soon as the service accounts are listed: an SA that only a labelled pod
    names and that carries no annotation has no client id to add."""
    if facts.scope.service_account:
        sa = service_account(facts, facts.scope.namespace, facts.scope.service_account)
        candidates = [sa] if sa is not None else []
    else:
        candidates = facts["service_accounts"]
    ids = set()
    for sa in candidates:
        value = (sa.metadata.annotations or {}).get(WI_CLIENT_ID) or ""
        if value.strip():
            ids.add(value.strip().lower())
    return ids


def client_ids_in_scope(facts: Facts) -> set[str]:
    return facts["client_ids_in_scope"]


@fact("identities_by_client_id")
def identities_by_client_id(facts: Facts) -> dict[str, Any]:
    return {(i.client_id or "").lower(): i for i in facts["identities"]}


def identity_by_client_id(facts: Facts, client_id: str) -> Any | None:
    return facts["identities_by_client_id"].get(client_id.lower())


@fact("fics")
def fics(facts: Facts) -> dict[str, list[Any]]:
    """Federated credentials of every identity the service accounts in scope point at."""
    azure = facts.ctx.azure
    in_scope = client_ids_in_scope(facts)
    wanted = [i for i in facts["identities"] if (i.client_id or "").lower() in in_scope]

    def list_fics(ident: Any) -> tuple[str, list[Any]]:
        rg = ident.id.split("/")[4]
        with azure_errors(f"listing the federated credentials of {ident.name}"):
            return ident.id.lower(), list(azure.msi.federated_identity_credentials.list(
                rg, ident.name))

    return dict(facts.map(list_fics, wanted))


@fact("role_assignments")
def role_assignments(facts: Facts) -> dict[str, list[Any]]:
    """Role assignments (subscription and below) of every identity in scope, by principalId."""
    azure = facts.ctx.azure
    in_scope = client_ids_in_scope(facts)
    wanted = [i for i in facts["identities"] if (i.client_id or "").lower() in in_scope]

    def list_ras(ident: Any) -> tuple[str, list[Any]]:
        with azure_errors(f"listing the role assignments of {ident.name}"):
            ras = azure.authorization.role_assignments.list_for_subscription(
                filter=f"assignedTo('{ident.principal_id}')")
            return ident.principal_id.lower(), list(ras)

    return dict(facts.map(list_ras, wanted))


@fact("role_names")
def role_names(facts: Facts) -> dict[str, str]:
    """Role definition GUID → role name, for the roles of the assignments in scope."""
    azure = facts.ctx.azure
    guids = {ra.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
             for ras in facts["role_assignments"].values() for ra in ras}

    def name_of(guid: str) -> tuple[str, str]:
        with azure_errors("reading a role definition"):
            rd = azure.authorization.role_definitions.get(
                f"/subscriptions/{azure.subscription_id}", guid)
            return guid, rd.role_name

    return dict(facts.map(name_of, sorted(guids)))
