"""Plain values for doctor's unit tests (run a check on them with checkrun.run).

Kubernetes objects are built from manifests (the API's JSON) with ``from_json``, as the adapter
builds them; a pod labelled for workload identity is mutated by the lab's webhook
(:func:`wi_cli.lab.kube.webhook.mutate_pod`, the pure function the lab's API server admits pods
with), so it carries exactly what the real webhook injects. Azure values are the domain's
(``Identity``, ``FederatedCredential``, ``Cluster``); ages are given in seconds before now. No
lab, no network, no sleep.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from typing import Any

from wi_cli.core.models import (
    WEBHOOK_DEPLOYMENT,
    WI_CLIENT_ID,
    WI_TENANT_ID,
    WI_USE_LABEL,
    Cluster,
    ConfigMap,
    Deployment,
    Endpoints,
    FederatedCredential,
    Identity,
    MutatingWebhookConfiguration,
    Namespace,
    Pod,
    ResourceId,
    Service,
    ServiceAccount,
    from_json,
)
from wi_cli.doctor.facts.cluster import AksRecord, IssuerDocuments
from wi_cli.doctor.facts.identities import Binding
from wi_cli.doctor.facts.live import Exchange, Minted, freshness, while_propagating
from wi_cli.doctor.facts.webhook import WEBHOOK_CONFIGMAP, WEBHOOK_SERVICE, Backend
from wi_cli.lab.kube import webhook as lab_webhook

NS, SA = "demo", "app"
SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
CLIENT_ID = "5a8c3b3e-2f7a-4b2a-9d0e-6f1e2a3b4c5d"
PRINCIPAL_ID = "9d2e7c1a-4b3f-4e8a-b6c5-1a2b3c4d5e6f"
OTHER_CLIENT_ID = "c0ffee00-1234-4abc-8def-0123456789ab"
RG, CLUSTER = "rg-wi", "aks-wi"
ISSUER = f"https://eastus.oic.prod-aks.azure.com/{TENANT}/3f2c6a7e-1b2d-4c3e-8f9a-0b1c2d3e4f5a/"
AUDIENCE = "api://AzureADTokenExchange"
AUTHORITY = "https://login.microsoftonline.com/"
KID = "kid-2024-current"
TOKEN = "unit-test-token-never-shown"  # stands for a minted JWT; must never reach a finding
ADDON_NS, HELM_NS = lab_webhook.ADDON_NAMESPACE, lab_webhook.HELM_NAMESPACE

def ago(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(time.time() - seconds, dt.timezone.utc)


# -- Kubernetes objects ---------------------------------------------------------------------------

def meta(name: str, ns: str | None = NS, *, labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {})}
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    return {**m, **more}


def namespace(name: str, labels: dict[str, str] | None = None) -> Namespace:
    return from_json(Namespace, {"metadata": meta(name, None, labels={
        "kubernetes.io/metadata.name": name, **(labels or {})})})


def service_account(name: str = SA, ns: str = NS, *, client_id: str | None = CLIENT_ID,
                    tenant_id: str | None = None, annotations: dict[str, str] | None = None,
                    labels: dict[str, str] | None = None) -> ServiceAccount:
    """A service account, by default bound to CLIENT_ID with the client-id annotation."""
    notes = {**({WI_CLIENT_ID: client_id} if client_id is not None else {}),
             **({WI_TENANT_ID: tenant_id} if tenant_id is not None else {}), **(annotations or {})}
    return from_json(ServiceAccount, {"metadata": meta(name, ns, labels=labels,
                                                       annotations=notes)})


def container(name: str = "app", *, env: dict[str, str] | list[dict[str, Any]] | None = None,
              image: str = "mcr.microsoft.com/azure-cli", **more: Any) -> dict[str, Any]:
    """A container manifest; ``env`` as {NAME: value} or the API's list."""
    c: dict[str, Any] = {"name": name, "image": image, **more}
    if env:
        c["env"] = ([{"name": k, "value": v} for k, v in env.items()] if isinstance(env, dict)
                    else list(env))
    return c


def mutate(manifest: dict[str, Any], client_id: str | None = CLIENT_ID,
           tenant_id: str = TENANT, layout: str = "v1.6", audience: str = AUDIENCE,
           sa_annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """The pod manifest as the webhook admits it, for a service account annotated with
    ``client_id`` when the pod was created."""
    sa = {"metadata": {"annotations": {**({WI_CLIENT_ID: client_id} if client_id else {}),
                                       **(sa_annotations or {})}}}
    settings = lab_webhook.WebhookSettings(tenant_id, AUTHORITY, lab_webhook.LAYOUTS[layout],
                                           audience)
    return lab_webhook.mutate_pod(manifest, sa, settings)


def pod_manifest(name: str = "worker", ns: str = NS, *, service_account: str = SA,
                 labelled: bool = True, labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None,
                 containers: list[dict[str, Any]] | None = None,
                 init_containers: list[dict[str, Any]] | None = None, **spec: Any,
                 ) -> dict[str, Any]:
    all_labels = {**({WI_USE_LABEL: "true"} if labelled else {}), **(labels or {})}
    body: dict[str, Any] = {"serviceAccountName": service_account,
                            "containers": containers or [container()], **spec}
    if init_containers:
        body["initContainers"] = init_containers
    return {"metadata": meta(name, ns, labels=all_labels, annotations=annotations), "spec": body}


def pod(name: str = "worker", ns: str = NS, *, mutated: bool | None = None,
        client_id: str | None = CLIENT_ID, layout: str = "v1.6", phase: str = "Running",
        owner: str | None = None, **manifest: Any) -> Pod:
    """A pod as the API server stores it: mutated by the webhook when it is labelled (unless
    ``mutated`` says otherwise), with ``client_id`` the service account's annotation at that
    time; ``owner`` names its ReplicaSet."""
    m = pod_manifest(name, ns, **manifest)
    if mutated is None:
        mutated = m["metadata"].get("labels", {}).get(WI_USE_LABEL) == "true"
    if mutated:
        m = mutate(m, client_id, layout=layout)
    if owner:
        m["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner,
                                             "uid": f"uid-{owner}", "controller": True}]
    m["status"] = {"phase": phase}
    return from_json(Pod, m)


def deployment_manifest(name: str = "web", ns: str = NS, *, service_account: str = SA,
                        labelled: bool = True, labels: dict[str, str] | None = None,
                        template_labels: dict[str, str] | None = None,
                        template_annotations: dict[str, str] | None = None,
                        containers: list[dict[str, Any]] | None = None, replicas: int = 1,
                        **spec: Any) -> dict[str, Any]:
    pod_labels = {"app": name, **({WI_USE_LABEL: "true"} if labelled else {}),
                  **(template_labels or {})}
    return {"metadata": meta(name, ns, labels=labels),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": meta("", None, labels=pod_labels,
                                                   annotations=template_annotations),
                                  "spec": {"serviceAccountName": service_account,
                                           "containers": containers or [container()],
                                           **spec}}}}


def deployment(name: str = "web", ns: str = NS, **kw: Any) -> Deployment:
    return from_json(Deployment, deployment_manifest(name, ns, **kw))


def deployment_and_pods(name: str = "web", ns: str = NS, *, client_id: str | None = CLIENT_ID,
                        mutated: bool | None = None, **kw: Any,
                        ) -> tuple[Deployment, list[Pod]]:
    """A Deployment and the pods its ReplicaSet created from the template (mutated by the
    webhook when the template is labelled)."""
    d = deployment_manifest(name, ns, **kw)
    replica_set = f"{name}-5d8f9c7b6"
    template = d["spec"]["template"]
    pods = []
    for i in range(d["spec"]["replicas"]):
        m = {"metadata": {**copy.deepcopy(template["metadata"]), "name": f"{replica_set}-x{i}",
                          "namespace": ns,
                          "ownerReferences": [{"kind": "ReplicaSet", "name": replica_set,
                                               "uid": "uid-rs", "controller": True}]},
             "spec": copy.deepcopy(template["spec"])}
        labelled = m["metadata"].get("labels", {}).get(WI_USE_LABEL) == "true"
        if labelled if mutated is None else mutated:
            m = mutate(m, client_id)
        m["status"] = {"phase": "Running"}
        pods.append(from_json(Pod, m))
    return from_json(Deployment, d), pods


def service(name: str, ns: str = NS, *, selector: dict[str, str] | None = None,
            annotations: dict[str, str] | None = None) -> Service:
    return from_json(Service, {"metadata": meta(name, ns, annotations=annotations),
                               "spec": {"selector": selector or {}}})


# -- the webhook ----------------------------------------------------------------------------------

def webhook_config(ns: str = ADDON_NS, config_name: str | None = None, **webhook: Any,
                   ) -> MutatingWebhookConfiguration:
    """The workload identity webhook's configuration as the add-on (kube-system, with the AKS
    admissions enforcer's namespace exclusions) or the Helm chart installs it; ``webhook``
    overrides fields of its one webhook (camelCase, as in the manifest)."""
    manifest = lab_webhook.webhook_configuration(ns, managed_by_aks=ns == ADDON_NS)
    manifest["webhooks"][0].update(webhook)
    if config_name:
        manifest["metadata"]["name"] = config_name
    return from_json(MutatingWebhookConfiguration, manifest)


def backend(ns: str = ADDON_NS, *, replicas: int | None = 2, ready: int = 2,
            endpoints: int | None = 2, tenant_id: str | None = TENANT,
            args: list[str] | None = None) -> Backend:
    """The webhook controller Deployment, its service's Endpoints and its config map in one
    namespace (``replicas=None``: no Deployment; ``endpoints=None``: no Endpoints object)."""
    d = None
    if replicas is not None:
        d = from_json(Deployment, {
            "metadata": meta(WEBHOOK_DEPLOYMENT, ns),
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                container("manager", image=f"{lab_webhook.IMAGE_REPO}/webhook:v1.6.0",
                          args=args or ["--log-level=info"])]}}},
            "status": {"replicas": replicas, "readyReplicas": ready}})
    e = None
    if endpoints is not None:
        addresses = [{"ip": f"10.244.0.{i + 10}"} for i in range(endpoints)]
        e = from_json(Endpoints, {"metadata": meta(WEBHOOK_SERVICE, ns),
                                  "subsets": [{"addresses": addresses}] if addresses else []})
    cm = from_json(ConfigMap, {"metadata": meta(WEBHOOK_CONFIGMAP, ns),
                               "data": {"AZURE_ENVIRONMENT": "AzurePublicCloud",
                                        **({"AZURE_TENANT_ID": tenant_id} if tenant_id else {})}})
    return Backend(d, e, cm)


# -- Azure ----------------------------------------------------------------------------------------

def identity(name: str = "id-app", *, client_id: str = CLIENT_ID,
             principal_id: str = PRINCIPAL_ID, tenant_id: str = TENANT,
             location: str = "westeurope", age: float | None = 86400.0) -> Identity:
    rid = ResourceId.parse(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/"
                           f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}")
    return Identity(rid, client_id, principal_id, tenant_id, location,
                    ago(age) if age is not None else None)


def subject(ns: str = NS, sa: str = SA) -> str:
    return f"system:serviceaccount:{ns}:{sa}"


def credential(name: str | None = None, *, issuer: str = ISSUER, ns: str = NS, sa: str = SA,
               subject_: str | None = None, audiences: tuple[str, ...] = (AUDIENCE,),
               age: float | None = 86400.0, changed: float | None = None,
               ) -> FederatedCredential:
    """A federated credential trusting ns/sa (or ``subject_``) from ``issuer``, created ``age``
    seconds ago (None: ARM gave no systemData) and changed ``changed`` seconds ago."""
    return FederatedCredential(name or f"{ns}-{sa}", issuer, subject_ or subject(ns, sa),
                               audiences, ago(age) if age is not None else None,
                               ago(changed) if changed is not None else None)


def fics_for(ident: Identity, *credentials: FederatedCredential,
             ) -> dict[str, list[FederatedCredential]]:
    return {ident.id.key: list(credentials)}


def cluster(name: str = CLUSTER, *, issuer: str | None = ISSUER, oidc: bool = True,
            workload_identity: bool = True) -> Cluster:
    rid = ResourceId.parse(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/"
                           f"Microsoft.ContainerService/managedClusters/{name}")
    return Cluster(rid, issuer if oidc else None, oidc, workload_identity,
                   f"{name}-dns-1a2b3c4d.hcp.eastus.azmk8s.io", "eastus")


def aks(mc: Cluster | None = None, how: str = "its OIDC issuer matches the API server's",
        ) -> AksRecord:
    return AksRecord(mc if mc is not None else cluster(), how)


NO_AKS = AksRecord(None, "no AKS cluster matches this API server (not AKS?)")


def issuer_documents(url: str | None = ISSUER, *, kids: tuple[str, ...] = (KID,),
                     issuer: str | None = None, problem: str | None = None,
                     ) -> IssuerDocuments:
    if not url:
        return IssuerDocuments(url)
    base = url.rstrip("/")
    return IssuerDocuments(url, f"{base}/.well-known/openid-configuration", issuer or url,
                           f"{base}/openid/v1/jwks", kids if not problem else (), problem)


# -- the live layer -------------------------------------------------------------------------------

def claims(*, iss: str = ISSUER, sub: str | None = None, aud: Any = None,
           lifetime: int = 3600, skew: float = 0.0) -> dict[str, Any]:
    """Service-account token claims, issued ``skew`` seconds from now."""
    iat = int(time.time() + skew)
    return {"iss": iss, "sub": sub or subject(), "aud": aud if aud is not None else [AUDIENCE],
            "iat": iat, "nbf": iat, "exp": iat + lifetime,
            "kubernetes.io": {"namespace": NS, "serviceaccount": {"name": SA}}}


def minted(**claim_values: Any) -> Minted:
    return Minted(TOKEN, {"alg": "RS256", "kid": claim_values.pop("kid", KID)},
                  claims(**claim_values))


def accepted(b: Binding) -> Exchange:
    now = int(time.time())
    return Exchange(TENANT, claims={
        "aud": "https://management.azure.com", "appid": b.client_id, "tid": TENANT,
        "oid": PRINCIPAL_ID, "iat": now, "exp": now + 3600})


def refused(code: str, words: str = "what Entra said", tenant: str | None = TENANT) -> Exchange:
    return Exchange(tenant, code=code, message=f"{code}: {words}. Trace ID: "
                                               "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")


def exchanged(b: Binding, answer: Exchange, credentials: list[FederatedCredential] | None,
              issuer: str = ISSUER) -> Exchange:
    """Entra's answer as the exchanges fact records it: with what ARM says about the matching
    credential, so a fresh one's refusal is marked as propagation (no retries: a zero budget)."""
    fresh = freshness(b, credentials, issuer, AUDIENCE, time.time())
    return while_propagating(lambda: copy.copy(answer), fresh, budget=0)

