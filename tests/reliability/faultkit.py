"""What the reliability suite shares: its mode, the endpoints each command uses, how each
command is set up against a lab, and the checks every run is held to.

CI mode (the default) runs one endpoint per (command, service, fault); ``WI_RELIABILITY=full``
runs every endpoint of every command with every fault, and more hypothesis examples."""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

FULL = os.environ.get("WI_RELIABILITY", "").strip().lower() == "full"
EXAMPLES = 200 if FULL else 20  # hypothesis examples per property

# wi waits 1 s for a connection and for each answer: a "slow" fault (2 s) outlasts it, so no
# test waits minutes for a timeout
TIMEOUTS = {"WI_CONNECT_TIMEOUT": "1", "WI_READ_TIMEOUT": "1"}
SLOW_SECONDS = 2.0
BEYOND_RETRIES = 50  # every retry of the policy meets the fault

# user agents of wi's own calls (Web, azure-core, the kubernetes client); the probe's agent,
# kubectl and the lab's Entra fetching issuer documents are someone else
WI_AGENTS = ("wi-cli", "azsdk-python-", "OpenAPI-Generator/")


@dataclass(frozen=True)
class Endpoint:
    """One REST operation: the service, the method and a regex the whole path matches."""

    service: str  # arm | entra | kube | oidc
    method: str
    path: str
    name: str
    auth: bool = True  # carries the operator's credential: a 401 there is an expired token

    def matches(self, service: str, method: str, path: str) -> bool:
        return (service == self.service and method == self.method
                and re.fullmatch(self.path, path.split("?")[0], re.IGNORECASE) is not None)

    @property
    def id(self) -> str:
        return f"{self.service}-{self.method}-{self.name}"


SUB = r"/subscriptions/[^/]+"
RG = SUB + r"/resourcegroups/[^/]+"
MSI = r"/providers/Microsoft\.ManagedIdentity/+userAssignedIdentities"
UAMI = RG + MSI + r"/[^/]+"
AUTHZ = r"/providers/Microsoft\.Authorization"
NS = r"/api/v1/namespaces/[^/]+"
APPS_NS = r"/apis/apps/v1/namespaces/[^/]+"

METADATA = Endpoint("arm", "GET", r"/metadata/endpoints", "cloud-metadata", auth=False)
ENTRA_DISCOVERY = Endpoint("entra", "GET", r"/[^/]+/v2\.0/\.well-known/openid-configuration",
                           "openid-configuration", auth=False)
ENTRA_TOKEN = Endpoint("entra", "POST", r"/[^/]+/oauth2/v2\.0/token", "token")
IDENTITIES = Endpoint("arm", "GET", SUB + MSI, "list-identities")
IDENTITY = Endpoint("arm", "GET", UAMI, "get-identity")
FICS = Endpoint("arm", "GET", UAMI + r"/federatedIdentityCredentials", "list-credentials")
FIC_PUT = Endpoint("arm", "PUT", UAMI + r"/federatedIdentityCredentials/[^/]+",
                   "put-credential")
FIC_DELETE = Endpoint("arm", "DELETE", UAMI + r"/federatedIdentityCredentials/[^/]+",
                      "delete-credential")
PERMISSIONS = Endpoint("arm", "GET", UAMI + AUTHZ + r"/permissions", "identity-permissions")
ROLE_ASSIGNMENTS = Endpoint("arm", "GET", SUB + AUTHZ + r"/roleAssignments",
                            "list-role-assignments")
ROLE_DEFINITION = Endpoint("arm", "GET", SUB + AUTHZ + r"/roleDefinitions/[^/]+",
                           "get-role-definition")
CLUSTERS = Endpoint("arm", "GET", SUB + r"/providers/Microsoft\.ContainerService/managedClusters",
                    "list-clusters")
USER_CREDENTIAL = Endpoint("arm", "POST", RG + r"/providers/Microsoft\.ContainerService/"
                           r"managedClusters/[^/]+/listClusterUserCredential",
                           "list-cluster-user-credential")
ISSUER_DISCOVERY = Endpoint("oidc", "GET", r"/.+/\.well-known/openid-configuration",
                            "issuer-discovery", auth=False)
ISSUER_JWKS = Endpoint("oidc", "GET", r"/.+/openid/v1/jwks", "issuer-jwks", auth=False)


def _kube(method: str, path: str, name: str) -> Endpoint:
    return Endpoint("kube", method, path, name)


K_ISSUER = _kube("GET", r"/\.well-known/openid-configuration", "service-account-issuer")
K_VERSION = _kube("GET", r"/version", "version")
K_NAMESPACES = _kube("GET", r"/api/v1/namespaces", "list-namespaces")
K_NAMESPACE = _kube("GET", NS, "get-namespace")
K_SAS = _kube("GET", NS + r"/serviceaccounts", "list-service-accounts")
K_SA = _kube("GET", NS + r"/serviceaccounts/[^/]+", "get-service-account")
K_SA_PATCH = _kube("PATCH", NS + r"/serviceaccounts/[^/]+", "patch-service-account")
K_SA_TOKEN = _kube("POST", NS + r"/serviceaccounts/[^/]+/token", "token-request")
K_PODS = _kube("GET", NS + r"/pods", "list-pods")
K_POD = _kube("GET", NS + r"/pods/[^/]+", "get-pod")
K_POD_LOG = _kube("GET", NS + r"/pods/[^/]+/log", "pod-log")
K_POD_CREATE = _kube("POST", NS + r"/pods", "create-pod")
K_POD_DELETE = _kube("DELETE", NS + r"/pods/[^/]+", "delete-pod")
K_CM = _kube("GET", NS + r"/configmaps/[^/]+", "get-configmap")
K_CM_CREATE = _kube("POST", NS + r"/configmaps", "create-configmap")
K_CM_PATCH = _kube("PATCH", NS + r"/configmaps/[^/]+", "patch-configmap")
K_CM_DELETE = _kube("DELETE", NS + r"/configmaps/[^/]+", "delete-configmap")
K_SERVICES = _kube("GET", NS + r"/services", "list-services")
K_ENDPOINTS = _kube("GET", NS + r"/endpoints/[^/]+", "get-endpoints")
K_DEPLOYMENTS = _kube("GET", APPS_NS + r"/deployments", "list-deployments")
K_DEPLOYMENT = _kube("GET", APPS_NS + r"/deployments/[^/]+", "get-deployment")
K_DEPLOYMENT_PATCH = _kube("PATCH", APPS_NS + r"/deployments/[^/]+", "patch-deployment")
K_REPLICASET = _kube("GET", APPS_NS + r"/replicasets/[^/]+", "get-replicaset")
K_SSAR = _kube("POST", r"/apis/authorization\.k8s\.io/v1/selfsubjectaccessreviews",
               "access-review")
K_WEBHOOKS = _kube("GET", r"/apis/admissionregistration\.k8s\.io/v1/"
                   r"mutatingwebhookconfigurations", "list-webhook-configurations")
K_ROLEBINDINGS = _kube("GET", r"/apis/rbac\.authorization\.k8s\.io/v1/namespaces/[^/]+/"
                       r"rolebindings", "list-rolebindings")
K_CLUSTERROLEBINDINGS = _kube("GET", r"/apis/rbac\.authorization\.k8s\.io/v1/"
                              r"clusterrolebindings", "list-clusterrolebindings")
K_ALL_PODS = _kube("GET", r"/api/v1/pods", "list-all-pods")
PI = r"/apis/aadpodidentity\.k8s\.io/v1"
K_PI_DISCOVERY = _kube("GET", PI, "pod-identity-discovery")
K_PI_LISTS = [_kube("GET", PI + f"/{plural}", f"list-{plural}")
              for plural in ("azureidentities", "azureidentitybindings",
                             "azurepodidentityexceptions")]
K_WORKLOAD_LISTS = [_kube("GET", f"/apis/{group}/v1/{plural}", f"list-all-{plural}")
                    for group, plural in (("apps", "deployments"), ("apps", "statefulsets"),
                                          ("apps", "daemonsets"), ("batch", "cronjobs"),
                                          ("batch", "jobs"))]

SIGN_IN = [METADATA, ENTRA_DISCOVERY, ENTRA_TOKEN]

# every endpoint each command calls in a healthy run (test_endpoint_catalog holds this list to
# what the lab sees)
ENDPOINTS: dict[str, list[Endpoint]] = {
    "bind": [*SIGN_IN, IDENTITIES, K_ISSUER, K_NAMESPACE, K_SA, K_DEPLOYMENT, K_PODS, FICS,
             PERMISSIONS, K_SSAR, FIC_PUT, K_SA_PATCH],
    "unbind": [*SIGN_IN, IDENTITIES, FICS, K_ISSUER, K_SA, PERMISSIONS, K_SSAR, FIC_DELETE,
               K_SA_PATCH],
    "doctor": [*SIGN_IN, K_VERSION, K_ISSUER, K_NAMESPACES, K_WEBHOOKS, K_SAS, K_DEPLOYMENT,
               K_SERVICES, K_PODS, K_DEPLOYMENTS, IDENTITIES, K_ENDPOINTS, FICS, K_CM,
               ROLE_ASSIGNMENTS, K_SA_TOKEN, ROLE_DEFINITION, CLUSTERS, ISSUER_DISCOVERY,
               ISSUER_JWKS],
    "probe": [*SIGN_IN, K_NAMESPACE, K_SA, IDENTITIES, FICS, K_CM_CREATE, K_POD_CREATE, K_POD,
              K_POD_LOG, K_POD_DELETE, K_CM_DELETE],
    "provision": [*SIGN_IN, USER_CREDENTIAL],
    "migrate": [*SIGN_IN, K_PI_DISCOVERY, *K_PI_LISTS, *K_WORKLOAD_LISTS, K_ALL_PODS, K_ISSUER,
                CLUSTERS, K_CM, K_SAS, K_ROLEBINDINGS, K_CLUSTERROLEBINDINGS, IDENTITY,
                K_NAMESPACE, K_SA, K_DEPLOYMENT, K_PODS, FICS, K_REPLICASET, PERMISSIONS,
                K_SSAR, FIC_PUT, K_SA_PATCH, K_SA_TOKEN, K_CM_PATCH, K_CM_CREATE,
                K_DEPLOYMENT_PATCH],
}
COMMANDS = tuple(ENDPOINTS)
# reads a command does without by design when they fail, so success is an answer there too:
# doctor shows role GUIDs when their names cannot be read; the probe runs its pod without
# ARM's view of the identity (one scope fewer, no propagation hints); migrate notes that it
# could not read the AKS cluster's pod identity profile, nor the RoleBindings a new service
# account would lack (they are listed for information only)
OPTIONAL = {"doctor": {ROLE_DEFINITION},
            "probe": {ENTRA_DISCOVERY, ENTRA_TOKEN, IDENTITIES, FICS},
            "migrate": {CLUSTERS, K_ROLEBINDINGS, K_CLUSTERROLEBINDINGS}}
# deletes after the job is done: the probe reports what it could not delete next to its verdict
CLEANUP = {"probe": {K_POD_DELETE, K_CM_DELETE}}
# an untrusted certificate fails every client of the server, not only wi: the pod's agent and
# Entra fetching the issuer's keys too, which doctor and the probe diagnose (exit 1) as the
# broken link they are
TLS_DIAGNOSES = {("doctor", "oidc"): "identity.issuer-documents",
                 ("probe", "entra"): "probe.token-exchange"}
WRITES = ("bind", "unbind", "provision", "migrate")


def services(command: str) -> list[str]:
    return sorted({e.service for e in ENDPOINTS[command]})


# -- faults -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fault:
    name: str
    status: int = 0  # the status a "status" fault answers with
    action: str = "status"
    retry_after: int | None = None

    @property
    def per_endpoint(self) -> bool:
        return self.name != "tls"  # an untrusted certificate fails the connection, any path


FAULTS = {f.name: f for f in (
    Fault("429", 429, retry_after=1),  # throttling, Retry-After as ARM sends it
    Fault("500", 500),
    Fault("503", 503, retry_after=1),
    Fault("slow", action="slow"),  # the answer comes after the client's read timeout
    Fault("reset", action="reset"),  # the connection is reset, no answer
    Fault("tls", action="tls"),  # a certificate the client does not trust
    Fault("401", 401),  # the operator's token expired mid-run
)}


def faults_for(command: str) -> list[Fault]:
    """Every fault in full mode; in CI mode 500 and 503 take turns (one 5xx per command)."""
    if FULL:
        return list(FAULTS.values())
    other = "503" if COMMANDS.index(command) % 2 == 0 else "500"
    return [f for f in FAULTS.values() if f.name != other]


def endpoint_for(command: str, service: str, fault: Fault) -> list[Endpoint]:
    """The endpoints a (command, service, fault) case runs on: every eligible one in full mode,
    else one, rotated over faults and commands so that CI meets many endpoints."""
    if not fault.per_endpoint:
        return [next(e for e in ENDPOINTS[command] if e.service == service)]
    eligible = [e for e in ENDPOINTS[command]
                if e.service == service and (fault.status != 401 or e.auth)]
    if FULL:
        return eligible
    index = list(FAULTS).index(fault.name) + COMMANDS.index(command)
    return [eligible[index % len(eligible)]] if eligible else []


def arm_fault(server: Any, endpoint: Endpoint, fault: Fault, count: int = BEYOND_RETRIES
              ) -> Callable[[], int]:
    """Set ``fault`` on ``server`` for ``endpoint``; returns how many requests met it so far."""
    if fault.action == "tls":
        server.faults.untrusted_tls(count)
        return lambda: count - int(server.faults.summary()["untrusted_tls"])
    rule = server.faults.fail_next(count=count, status=fault.status or 429,
                                   retry_after=fault.retry_after, method=endpoint.method,
                                   path=endpoint.path, action=fault.action,
                                   delay=SLOW_SECONDS, agents=WI_AGENTS)
    return lambda: count - rule.remaining


# -- what every run is held to -----------------------------------------------------------------

SERVICE_WORDS = {"arm": r"Azure|cloud metadata", "entra": r"Entra ID",
                 "kube": r"Kubernetes|cluster", "oidc": r"issuer|OIDC|discovery|JWKS"}
STEP_STATUSES = {"applied", "failed", "not-run", "unchanged"}


def one_envelope(out: str) -> dict[str, Any]:
    """stdout is exactly one wi/v1 JSON envelope."""
    doc = json.loads(out)  # a second document, or any other text, fails here
    assert doc["schema"] == "wi/v1", doc
    assert set(doc) == {"schema", "command", "status", "exit_code", "data", "findings",
                        "errors"}, doc.keys()
    return doc


def names_service_and_operation(message: str, service: str) -> bool:
    return (re.search(SERVICE_WORDS[service], message) is not None
            and (" while " in message or message.startswith("Could not read the cloud metadata")))


# -- secrets -----------------------------------------------------------------------------------

JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def secrets_of(lab: Any, seeded: Any) -> dict[str, str]:
    """Every secret value the lab holds that a wi run could meet: the operator's client
    secret, the cluster's admin token, the lab's signing and TLS private keys (PEM)."""
    found = {"operator client secret": seeded.operator.secret,
             "cluster admin token": seeded.cluster.admin_token}
    for principal in lab.azure.principals.values():
        secret = getattr(principal, "secret", None)
        if secret:
            found[f"client secret of {principal.display_name}"] = secret
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """What of a JWT, a private key or a known secret ``text`` holds (names, never values)."""
    found = [name for name, value in secrets.items() if value and value in text]
    if JWT.search(text):
        found.append("a JWT")
    if PEM_KEY.search(text):
        found.append("a PEM private key")
    return found


# -- the lab's state, to compare before and after ---------------------------------------------

VOLATILE = ("resourceVersion", "managedFields", "generation")


def lab_state(lab: Any, cluster: Any) -> dict[str, Any]:
    """ARM's identities (with their credentials), role assignments, and the cluster's objects
    (without what controllers keep current)."""
    from wi_cli.lab.admin import state_summary

    summary = state_summary(lab)
    azure = {key: summary[key] for key in ("identities", "role_assignments", "clusters")}
    objects: dict[str, Any] = {}
    for plural in ("namespaces", "serviceaccounts", "configmaps", "pods", "deployments",
                   "secrets"):
        items, _ = cluster.store.list(plural, None)
        for obj in items:
            meta = copy.deepcopy(obj.get("metadata") or {})
            for key in VOLATILE:
                meta.pop(key, None)
            objects[f"{plural}/{meta.get('namespace', '')}/{meta.get('name')}"] = {
                "metadata": meta, "spec": obj.get("spec"), "data": obj.get("data")}
    return {"azure": azure, "kube": objects}


def files_under(folder: Path) -> dict[str, str]:
    """Every text file under ``folder`` (what a run wrote), by path."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.stat().st_size < 5_000_000:
            try:
                out[str(path)] = path.read_text(errors="replace")
            except OSError:
                continue
    return out
