"""`wi probe`: run the agent in a short-lived pod under a service account and read its report.

The pod is what a workload would be: labelled for the webhook, under the service account, with
nothing mounted but the agent (its ConfigMap) and what the webhook injects. The report comes
back as the last ``WI-PROBE-REPORT {json}`` line of the pod's log; the pod and its ConfigMap are
deleted whatever happens (unless ``keep``).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

from ..adapters.azure.clients import AzureClients
from ..adapters.azure.errors import azure_errors
from ..adapters.kube.client import KubeClients, kube_errors
from .aadsts import explain
from .cloud import Cloud
from .models import (
    IDENTITY_PROPAGATION_CODES,
    PROPAGATION_CODES,
    PROPAGATION_WAIT_SECONDS,
    PROPAGATION_WINDOW_SECONDS,
    Propagation,
    age_since,
    propagation_of,
    propagation_waits,
)
from .errors import (
    ConfigError,
    ConflictError,
    KubernetesError,
    KubernetesNotFound,
    RemoteError,
    UsageError,
    WiError,
)
from .names import WI_CLIENT_ID, WI_USE_LABEL, check_namespace, check_service_account

DEFAULT_IMAGE = "mcr.microsoft.com/azurelinux/distroless/python:3.12"
DEFAULT_TIMEOUT = 120.0
REPORT_PREFIX = "WI-PROBE-REPORT "
AGENT_MOUNT = "/opt/wi-probe"
CONTAINER = "probe"
NOBODY = 65534
KEYVAULT_API = "2023-07-01"
STORAGE_API = "2023-05-01"
# container "waiting" reasons that will not fix themselves within a probe's lifetime
STUCK_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                           "ErrImageNeverPull", "CreateContainerConfigError",
                           "CreateContainerError", "RunContainerError"})
KEYVAULT_SCOPES = {"AzureChinaCloud": "https://vault.azure.cn/.default",
                   "AzureUSGovernment": "https://vault.usgovcloudapi.net/.default"}
_STORAGE_TARGET = re.compile(r"^([a-z0-9]{3,24})/([a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$")
_VAULT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")


class ProbeTimeout(RemoteError):
    """The pod did not finish in time (exit 4)."""


@dataclass
class ProbeRequest:
    namespace: str = "default"
    service_account: str = "default"
    image: str = DEFAULT_IMAGE
    timeout: float = DEFAULT_TIMEOUT
    keep: bool = False
    keyvault: str | None = None  # vault name or resource id
    storage: str | None = None  # ACCOUNT/CONTAINER
    propagation_wait: float = PROPAGATION_WAIT_SECONDS  # seconds the agent may wait for Entra


@dataclass
class Targets:
    """What the agent is told to look at (all resolved by the operator, through ARM)."""

    scopes: list[str] = field(default_factory=list)
    keyvault_id: str | None = None
    keyvault_uri: str | None = None
    storage_id: str | None = None
    blob_container_url: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"scopes": list(self.scopes), "keyvault": {"id": self.keyvault_id,
                                                          "uri": self.keyvault_uri}
                if self.keyvault_id else None,
                "storage": {"id": self.storage_id, "container_url": self.blob_container_url}
                if self.storage_id else None, "notes": list(self.notes)}


@dataclass
class ArmView:
    """What ARM says about the identity the service account names and its credentials (read by
    `wi probe` with the operator's credentials; the agent in the pod cannot)."""

    readable: bool = False
    identity: str | None = None
    identity_age: float | None = None
    # {name, issuer, subject, audiences, age (None: not reported), changed}
    fics: list[dict[str, Any]] = field(default_factory=list)

    def retry_codes(self, subject: str) -> list[str] | None:
        """The refusals the agent should retry for this subject: a credential for it is young
        or of unknown age (the matching codes), the identity is young (700016); None when ARM
        could not tell (the agent then retries its default set)."""
        if not self.readable or self.identity is None:
            return None
        codes = []
        if any(f["subject"] == subject and (f["age"] is None
                                            or f["age"] < PROPAGATION_WINDOW_SECONDS)
               for f in self.fics):
            codes += sorted(PROPAGATION_CODES)
        if self.identity_age is not None and self.identity_age < PROPAGATION_WINDOW_SECONDS:
            codes += sorted(IDENTITY_PROPAGATION_CODES)
        return codes

    def propagation(self, claims: dict[str, Any], code: str | None) -> Propagation | None:
        """The shared rule (core.models.propagation_of) for what the agent got."""
        if not self.readable or self.identity is None:
            return None
        aud = claims.get("aud")
        audiences = set(aud if isinstance(aud, list) else [aud])
        exact = next((f for f in self.fics if f["issuer"] == claims.get("iss")
                      and f["subject"] == claims.get("sub")
                      and audiences.intersection(f["audiences"])), None)
        return propagation_of(code, credential_age=exact["age"] if exact else None,
                              exact_match=exact is not None, identity_age=self.identity_age,
                              changed=bool(exact and exact["changed"]))


def read_arm_view(azure: AzureClients | None, client_id: str | None) -> ArmView:
    """The identity with this client id and its credentials, with their ages."""
    if azure is None or not client_id:
        return ArmView()
    now = time.time()
    try:
        ident = _identity_with_client_id(azure, client_id)
        if ident is None:
            return ArmView(readable=True)
        with azure_errors(f"listing the federated credentials of {ident.name}"):
            fics = list(azure.msi.federated_identity_credentials.list(ident.id.split("/")[4],
                                                                      ident.name))
    except WiError:
        return ArmView()
    system = getattr(ident, "system_data", None)
    view = ArmView(True, ident.name, age_since(getattr(system, "created_at", None), None,
                                               now)[0])
    for fic in fics:
        fic_system = getattr(fic, "system_data", None)
        age, changed = age_since(getattr(fic_system, "created_at", None),
                                 getattr(fic_system, "last_modified_at", None), now)
        view.fics.append({"name": fic.name, "issuer": fic.issuer, "subject": fic.subject,
                          "audiences": list(fic.audiences or []), "age": age,
                          "changed": changed})
    return view


@dataclass
class ProbeOutcome:
    request: ProbeRequest
    pod_name: str
    outcome: str  # completed | failed | refused
    report: dict[str, Any] | None
    targets: Targets
    verdict: dict[str, Any]
    pod: dict[str, Any] = field(default_factory=dict)
    cleanup: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.verdict.get("ok"))

    @property
    def status(self) -> str:
        """ok, warn (e.g. a fresh credential still propagating) or fail."""
        return str(self.verdict.get("status") or ("ok" if self.ok else "fail"))

    def to_json(self) -> dict[str, Any]:
        report = self.report or {}
        tokens = report.get("tokens") or {}
        return {
            "outcome": self.outcome,
            "pod": {"name": self.pod_name, "namespace": self.request.namespace,
                    "service_account": self.request.service_account,
                    "image": self.request.image, "kept": self.request.keep, **self.pod},
            "container": report.get("container"),
            "env": report.get("env"),
            "credential": report.get("credential"),
            "tokens": {"service_account": tokens.get("service_account"),
                       "access_token": tokens.get("access_token")},
            "permissions": report.get("permissions"),
            "checks": report.get("checks") or [],
            "targets": self.targets.to_json(),
            "verdict": self.verdict,
            "cleanup": list(self.cleanup),
        }


# -- input ----------------------------------------------------------------------------------------
def validate(req: ProbeRequest) -> None:
    check_namespace(req.namespace)
    check_service_account(req.service_account)
    if not req.image or any(ch.isspace() for ch in req.image):
        raise UsageError(f"--image must be an image reference, got {req.image!r}.")
    if not (1 <= req.timeout <= 3600):
        raise UsageError(f"--timeout must be between 1 and 3600 seconds, got {req.timeout:g}.")
    if req.keyvault and not (req.keyvault.lower().startswith("/subscriptions/")
                             or _VAULT_NAME.match(req.keyvault)):
        raise UsageError(f"--check-keyvault takes a vault name or resource id, got "
                         f"{req.keyvault!r}.", ["A vault name is 3-24 letters, digits and "
                                                "hyphens, starting with a letter."])
    if req.storage and not _STORAGE_TARGET.match(req.storage):
        raise UsageError(f"--check-storage takes ACCOUNT/CONTAINER, got {req.storage!r}.",
                         ["e.g. --check-storage mystorageacct/data (lower-case account and "
                          "container names)."])


# -- target resolution (operator credentials) -----------------------------------------------------
def _arm_get(azure: AzureClients, url: str, doing: str) -> dict[str, Any]:
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    with azure_errors(doing):
        response = azure.subscriptions.send_request(HttpRequest("GET", url))
        if response.status_code != 200:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        body = response.json()
    return body if isinstance(body, dict) else {}


def _arm_find(azure: AzureClients, rtype: str, api_version: str, ref: str,
              what: str) -> dict[str, Any]:
    if ref.lower().startswith("/subscriptions/"):
        return _arm_get(azure, f"{ref}?api-version={api_version}", f"reading {what} {ref}")
    url: str | None = (f"/subscriptions/{azure.subscription_id}/providers/{rtype}"
                       f"?api-version={api_version}")
    while url:
        page = _arm_get(azure, url, f"looking up {what} {ref}")
        for item in page.get("value") or []:
            if str(item.get("name", "")).lower() == ref.lower():
                return item
        url = page.get("nextLink")
    raise ConfigError(f"No {what} named {ref!r} in subscription {azure.subscription_id}.",
                      ["Check the name and the subscription (--subscription), or pass the "
                       "full resource id."])


def _identity_with_client_id(azure: AzureClients, client_id: str) -> Any | None:
    with azure_errors("looking up the service account's managed identity"):
        for ident in azure.msi.user_assigned_identities.list_by_subscription():
            if (ident.client_id or "").lower() == client_id.lower():
                return ident
    return None


def _identity_resource_group(azure: AzureClients, client_id: str) -> str | None:
    ident = _identity_with_client_id(azure, client_id)
    return "/".join(ident.id.split("/")[:5]) if ident is not None else None


def resolve_targets(req: ProbeRequest, azure: AzureClients | None,
                    client_id: str | None) -> Targets:
    targets = Targets()
    if azure is None:
        targets.notes.append("No subscription selected: the agent inspects the subscriptions "
                             "it can see.")
        return targets
    targets.scopes.append(f"/subscriptions/{azure.subscription_id}")
    if client_id:
        try:
            rg_scope = _identity_resource_group(azure, client_id)
        except WiError as exc:  # the probe still runs; only one scope fewer
            targets.notes.append(f"Could not find the identity's resource group: {exc.message}")
            rg_scope = None
        if rg_scope:
            targets.scopes.append(rg_scope)
    if req.keyvault:
        vault = _arm_find(azure, "Microsoft.KeyVault/vaults", KEYVAULT_API, req.keyvault,
                          "Key Vault")
        targets.keyvault_id = vault.get("id")
        targets.keyvault_uri = (vault.get("properties") or {}).get("vaultUri")
        if not targets.keyvault_uri:
            raise ConfigError(f"Key Vault {req.keyvault} has no vaultUri in ARM.")
        targets.scopes.append(str(targets.keyvault_id))
    if req.storage:
        account_name, container = req.storage.split("/", 1)
        account = _arm_find(azure, "Microsoft.Storage/storageAccounts", STORAGE_API,
                            account_name, "storage account")
        blob = ((account.get("properties") or {}).get("primaryEndpoints") or {}).get("blob")
        if not blob:
            raise ConfigError(f"Storage account {account_name} has no blob endpoint.")
        targets.storage_id = account.get("id")
        targets.blob_container_url = blob.rstrip("/") + "/" + container
        targets.scopes.append(f"{targets.storage_id}/blobServices/default/containers/{container}")
    return targets


# -- the objects ----------------------------------------------------------------------------------
def agent_source() -> str:
    return resources.files("wi_cli.agent").joinpath("agent.py").read_text(encoding="utf-8")


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "wi-probe", "app.kubernetes.io/managed-by": "wi",
            "app.kubernetes.io/instance": name}


def configmap_body(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": _labels(name)},
            "data": {"agent.py": agent_source()}}


def agent_env(cloud: Cloud, targets: Targets, waits: list[float] | None = None,
              retry_codes: list[str] | None = None) -> list[dict[str, Any]]:
    def field_ref(path: str) -> dict[str, Any]:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}

    env: list[dict[str, Any]] = [
        {"name": "WI_POD_NAME", **field_ref("metadata.name")},
        {"name": "WI_POD_NAMESPACE", **field_ref("metadata.namespace")},
        {"name": "WI_NODE_NAME", **field_ref("spec.nodeName")},
        {"name": "WI_ARM_ENDPOINT", "value": cloud.arm_endpoint},
        {"name": "WI_ARM_SCOPE", "value": cloud.arm_scope},
        {"name": "WI_SCOPES", "value": " ".join(targets.scopes)},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]
    if waits is not None:  # the agent's retries while a fresh credential propagates
        env.append({"name": "WI_PROPAGATION_WAITS", "value": ",".join(f"{w:g}" for w in waits)})
    if retry_codes is not None:  # ... and for which refusals
        env.append({"name": "WI_PROPAGATION_CODES", "value": ",".join(retry_codes)})
    if cloud.name in KEYVAULT_SCOPES:
        env.append({"name": "WI_KEYVAULT_SCOPE", "value": KEYVAULT_SCOPES[cloud.name]})
    if targets.keyvault_uri:
        env.append({"name": "WI_CHECK_KEYVAULT", "value": targets.keyvault_uri})
    if targets.blob_container_url:
        env.append({"name": "WI_CHECK_BLOB", "value": targets.blob_container_url})
    return env


def pod_body(name: str, req: ProbeRequest, env: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": req.namespace,
                     "labels": {**_labels(name), WI_USE_LABEL: "true"}},
        "spec": {
            "serviceAccountName": req.service_account,
            "automountServiceAccountToken": False,  # the webhook projects its own token
            "restartPolicy": "Never",
            "activeDeadlineSeconds": max(10, math.ceil(req.timeout) + 5),
            "securityContext": {"runAsNonRoot": True, "runAsUser": NOBODY, "runAsGroup": NOBODY,
                                "fsGroup": NOBODY,  # makes the projected token readable
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": CONTAINER, "image": req.image,
                "command": ["python3", f"{AGENT_MOUNT}/agent.py"],
                "env": env,
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                              "limits": {"cpu": "250m", "memory": "128Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                                    "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "agent", "mountPath": AGENT_MOUNT, "readOnly": True}],
            }],
            "volumes": [{"name": "agent", "configMap": {"name": name, "defaultMode": 0o444}}],
        },
    }


# -- running it -----------------------------------------------------------------------------------
def parse_report(log: str) -> dict[str, Any] | None:
    """The agent's report: the last log line that starts with the marker."""
    for line in reversed(log.splitlines()):
        if line.startswith(REPORT_PREFIX):
            try:
                report = json.loads(line[len(REPORT_PREFIX):])
            except ValueError:
                return None
            return report if isinstance(report, dict) else None
    return None


def _preconditions(req: ProbeRequest, kube: KubeClients) -> str | None:
    """The service account's client-id annotation; raises when the SA is missing."""
    try:
        with kube_errors(f"reading service account {req.namespace}/{req.service_account}",
                         kube.server):
            sa = kube.core.read_namespaced_service_account(req.service_account, req.namespace)
    except KubernetesNotFound:
        raise ConflictError(f"Service account {req.namespace}/{req.service_account} does not "
                            "exist.",
                            [f"Create and bind it: wi bind {req.service_account} IDENTITY -n "
                             f"{req.namespace} --create"]) from None
    return (sa.metadata.annotations or {}).get(WI_CLIENT_ID)


def _admission_refusal(exc: KubernetesError) -> bool:
    text = exc.message.lower()
    return any(s in text for s in ("admission webhook", "failed calling webhook",
                                   "violates podsecurity"))


def _last_event(kube: KubeClients, namespace: str, name: str) -> dict[str, str] | None:
    try:
        with kube_errors("reading the probe pod's events"):
            events = kube.core.list_namespaced_event(
                namespace, field_selector=f"involvedObject.name={name}").items
    except WiError:
        return None
    if not events:
        return None
    warnings = [e for e in events if e.type == "Warning"] or events
    # "Error: ErrImagePull" only repeats the reason; the event before it says why
    telling = [e for e in warnings if not (e.message or "").startswith("Error: ")] or warnings
    last = telling[-1]
    return {"type": last.type, "reason": last.reason, "message": last.message}


def _stuck_reason(pod: Any) -> tuple[str, str] | None:
    for status in (pod.status.container_statuses or []):
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in STUCK_REASONS:
            return waiting.reason, waiting.message or ""
    return None


def _terminated(pod: Any) -> dict[str, Any]:
    for status in (pod.status.container_statuses or []):
        term = status.state.terminated if status.state else None
        if term is not None and status.name == CONTAINER:
            return {"exit_code": term.exit_code, "reason": term.reason}
    return {}


def _wait(req: ProbeRequest, kube: KubeClients, name: str,
          on_phase: Callable[[str], None]) -> tuple[str, Any, dict[str, Any] | None]:
    """Until the pod ends or is stuck: ('ended', pod, None) or ('stuck', pod, event)."""
    deadline = time.monotonic() + req.timeout
    shown = ""
    while True:
        with kube_errors("reading the probe pod", kube.server):
            pod = kube.core.read_namespaced_pod(name, req.namespace)
        phase = pod.status.phase or "Pending"
        if phase != shown:
            on_phase(phase)
            shown = phase
        if phase in ("Succeeded", "Failed"):
            return "ended", pod, None
        stuck = _stuck_reason(pod)
        if stuck:
            event = _last_event(kube, req.namespace, name)
            detail = [event["message"]] if event and event["message"] not in ("", stuck[1]) else []
            return "stuck", pod, {"type": "Warning", "reason": stuck[0], "message": stuck[1],
                                  "detail": detail}
        if time.monotonic() >= deadline:
            event = _last_event(kube, req.namespace, name)
            why = (f" Last event: {event['reason']}: {event['message']}" if event else "")
            raise ProbeTimeout(
                f"The probe pod {req.namespace}/{name} did not finish within "
                f"{req.timeout:g}s (phase {phase}).{why}",
                ["Check 'kubectl describe pod' (image pull, scheduling, quota), or allow more "
                 "time with --timeout; --keep keeps the pod for a look."])
        time.sleep(0.25)


def _read_log(kube: KubeClients, namespace: str, name: str) -> str:
    try:
        with kube_errors("reading the probe pod's log", kube.server):
            raw = kube.core.read_namespaced_pod_log(name, namespace, container=CONTAINER,
                                                    _preload_content=False)
    except KubernetesError:
        return ""
    return raw.data.decode("utf-8", errors="replace")


def _cleanup(kube: KubeClients, namespace: str, name: str) -> list[str]:
    problems = []
    for what, delete in (("pod", lambda: kube.core.delete_namespaced_pod(
            name, namespace, grace_period_seconds=0)),
            ("configmap", lambda: kube.core.delete_namespaced_config_map(name, namespace))):
        try:
            with kube_errors(f"deleting the probe {what}", kube.server):
                delete()
        except KubernetesNotFound:
            continue
        except WiError as exc:
            problems.append(f"Could not delete {what} {namespace}/{name}: {exc.message}")
    return problems


def probe(req: ProbeRequest, cloud: Cloud, azure: AzureClients | None, kube: KubeClients,
          on_phase: Callable[[str], None] = lambda phase: None) -> ProbeOutcome:
    validate(req)
    client_id = _preconditions(req, kube)
    targets = resolve_targets(req, azure, client_id)
    arm = read_arm_view(azure, client_id)
    retry_codes = arm.retry_codes(f"system:serviceaccount:{req.namespace}:{req.service_account}")
    waits = propagation_waits(req.propagation_wait) if retry_codes != [] else []
    name = f"wi-probe-{secrets.token_hex(3)}"
    on_phase("Creating")
    created = False
    outcome: ProbeOutcome | None = None
    try:
        with kube_errors(f"creating ConfigMap {req.namespace}/{name}", kube.server):
            kube.core.create_namespaced_config_map(req.namespace,
                                                   configmap_body(name, req.namespace))
        created = True
        try:
            with kube_errors(f"creating pod {req.namespace}/{name}", kube.server):
                kube.core.create_namespaced_pod(
                    req.namespace,
                    pod_body(name, req, agent_env(cloud, targets, waits, retry_codes)))
        except KubernetesError as exc:
            if not _admission_refusal(exc):
                raise
            outcome = _refused(req, name, targets, exc)
            return outcome
        state, pod, event = _wait(req, kube, name, on_phase)
        outcome = _outcome(req, kube, name, targets, state, pod, event, arm)
        return outcome
    finally:
        if created and not req.keep:
            problems = _cleanup(kube, req.namespace, name)
            if outcome is not None:
                outcome.cleanup.extend(problems)


def _refused(req: ProbeRequest, name: str, targets: Targets,
             exc: KubernetesError) -> ProbeOutcome:
    verdict = {"ok": False, "summary": "The cluster refused to admit the probe pod.",
               "causes": [exc.message],
               "fixes": [f"Run wi doctor -n {req.namespace} --service-account "
                         f"{req.service_account} to check the webhook and service account."],
               "warnings": []}
    return ProbeOutcome(req, name, "refused", None, targets, verdict,
                        pod={"phase": None, "reason": "AdmissionRefused", "message": exc.message})


def _outcome(req: ProbeRequest, kube: KubeClients, name: str, targets: Targets, state: str,
             pod: Any, event: dict[str, Any] | None, arm: ArmView) -> ProbeOutcome:
    info: dict[str, Any] = {"phase": pod.status.phase, "reason": pod.status.reason,
                            **_terminated(pod)}
    if state == "stuck" and event:
        info.update(reason=event["reason"], message=event["message"])
        verdict = {"ok": False, "summary": f"The probe pod never started: {event['reason']}.",
                   "causes": [event["message"] or event["reason"], *event.get("detail", [])],
                   "fixes": ["Check that the node can pull the image (egress-restricted "
                             "clusters: use an image from MCR or your ACR via --image)."],
                   "warnings": []}
        return ProbeOutcome(req, name, "failed", None, targets, verdict, pod=info)
    log = _read_log(kube, req.namespace, name)
    report = parse_report(log)
    if report is None:
        tail = [line for line in log.splitlines() if line.strip()][-10:]
        info["log_tail"] = tail
        verdict = {"ok": False,
                   "summary": f"The probe pod ended ({pod.status.phase}) without a report.",
                   "causes": tail[-3:] or [pod.status.reason or "no output"],
                   "fixes": ["The image must provide python3 (>= 3.8); pass one with --image."],
                   "warnings": []}
        return ProbeOutcome(req, name, "failed", None, targets, verdict, pod=info)
    explain_checks(report, targets)
    return ProbeOutcome(req, name, "completed", report, targets, verdict_of(report, req, arm),
                        pod=info)


# -- what it means --------------------------------------------------------------------------------
def verdict_of(report: dict[str, Any], req: ProbeRequest,
               arm: ArmView | None = None) -> dict[str, Any]:
    ns, sa = req.namespace, req.service_account
    doctor = f"Run wi doctor -n {ns} --service-account {sa} to check every link of the chain."
    warnings = _warnings(report)
    if report.get("fatal"):
        return _verdict(False, "The agent failed before it could report.", [report["fatal"]],
                        [doctor], warnings)
    missing = (report.get("env") or {}).get("missing") or []
    if "AZURE_FEDERATED_TOKEN_FILE" in missing:
        return _verdict(
            False, "The workload identity webhook did not mutate the pod: "
                   f"{', '.join(missing)} are missing and no token is projected.",
            ["The webhook is not installed or not running, or it did not match the pod "
             f"(label {WI_USE_LABEL}: \"true\" is set)."],
            ["AKS: az aks update -g RG -n CLUSTER --enable-oidc-issuer "
             "--enable-workload-identity", doctor], warnings)
    if "AZURE_CLIENT_ID" in missing:
        return _verdict(
            False, f"The pod got no AZURE_CLIENT_ID: service account {ns}/{sa} has no "
                   f"{WI_CLIENT_ID} annotation.",
            ["The webhook injects the client id from the service account's annotation."],
            [f"wi bind {sa} IDENTITY -n {ns}"], warnings)
    tokens = report.get("tokens") or {}
    sa_token = tokens.get("service_account") or {}
    if sa_token.get("error"):
        return _verdict(False, f"The projected token is unusable: {sa_token['error']}.",
                        [f"Token file {sa_token.get('path')} (mode {sa_token.get('mode')})."],
                        ["Run the pod with an fsGroup (wi probe uses 65534) so the token is "
                         "readable.", doctor], warnings)
    access = tokens.get("access_token") or {}
    if not access.get("ok"):
        error = access.get("error") or {}
        code = error.get("code")
        if code:
            cause, fix = explain(code)
            fresh = (arm or ArmView()).propagation(sa_token.get("claims") or {}, code)
            if fresh is not None:
                verdict = _propagating(fresh, code, access, arm or ArmView(), warnings)
                error["explanation"] = {"cause": verdict["causes"][0],
                                        "fix": verdict["fixes"][0]}
                return verdict
            error["explanation"] = {"cause": cause, "fix": fix}
            causes = [cause, error.get("description") or ""]
            if code in PROPAGATION_CODES and not (arm and arm.readable):
                causes.append("If the credential was created or changed in the last few "
                              "minutes, Entra may not see it yet: re-run in a few minutes.")
            return _verdict(False, f"Entra refused the token exchange: {code}.", causes,
                            [fix, doctor], warnings)
        return _verdict(False, "The token exchange did not complete: "
                               f"{error.get('description') or 'no answer'}.",
                        ["The pod could not reach Entra ID or got an unexpected answer."],
                        ["Check egress to the authority host (AZURE_AUTHORITY_HOST).", doctor],
                        warnings)
    claims = access.get("claims") or {}
    identity = str(claims.get("xms_mirid") or "").rsplit("/", 1)[-1] or claims.get("appid")
    failed = [c for c in report.get("checks") or [] if not c.get("ok")]
    summary = (f"Workload identity works: the pod got an access token as {identity} "
               f"(object id {claims.get('oid')}).")
    if failed:
        summary += f" {len(failed)} data-plane check(s) failed."
    return _verdict(True, summary, [c["explanation"]["cause"] for c in failed
                                    if c.get("explanation")],
                    [c["explanation"]["fix"] for c in failed if c.get("explanation")], warnings)


def _verdict(ok: bool, summary: str, causes: list[str], fixes: list[str],
             warnings: list[str], status: str | None = None) -> dict[str, Any]:
    return {"ok": ok, "status": status or ("ok" if ok else "fail"), "summary": summary,
            "causes": [c for c in causes if c], "fixes": fixes, "warnings": warnings}


def _propagating(fresh: Propagation, code: str, access: dict[str, Any], arm: ArmView,
                 warnings: list[str]) -> dict[str, Any]:
    """A WARN, never a FAIL: the credential matches exactly and Entra does not see it yet."""
    if fresh.what == "identity":
        what = f"identity {arm.identity} was {fresh.age}: Entra does not know its client id yet"
    else:
        what = (f"the credential on {arm.identity} that matches the pod's token exactly was "
                f"{fresh.age}: Entra does not see it yet")
    waited = access.get("waited_seconds")
    tried = f" (still after {waited:g} s of retries)" if waited else ""
    return _verdict(False, f"Entra refused the token exchange with {code}{tried}, but {what}. "
                           "Re-run in a few minutes.",
                    ["A new federated credential takes a few minutes to propagate in Entra; "
                     "meanwhile it answers as if the credential did not exist."],
                    ["Nothing to change: re-run wi probe in a few minutes (SDKs in the pods "
                     "retry on their own)."], warnings, status="warn")


def _warnings(report: dict[str, Any]) -> list[str]:
    out = []
    credential = report.get("credential") or {}
    if credential.get("shadows_workload_identity"):
        out.append(f"DefaultAzureCredential would use {credential.get('first')} first: it "
                   "shadows workload identity. Remove AZURE_CLIENT_SECRET (or the certificate/"
                   "password variables) from the pod, or use WorkloadIdentityCredential.")
    sa_token = (report.get("tokens") or {}).get("service_account") or {}
    expires = sa_token.get("expires_in_seconds")
    if isinstance(expires, (int, float)) and expires < 300:
        out.append(f"The projected token expires in {int(expires)}s.")
    return out


_DATA_ROLES = {"keyvault": ("Key Vault Secrets User", "the vault"),
               "storage": ("Storage Blob Data Reader", "the storage account or container")}


def explain_checks(report: dict[str, Any], targets: Targets) -> None:
    """Attach a cause and fix to each failed data-plane check."""
    oid = (((report.get("tokens") or {}).get("access_token") or {}).get("claims") or {}).get("oid")
    for check in report.get("checks") or []:
        if check.get("ok"):
            continue
        kind = check.get("kind", "")
        role, where = _DATA_ROLES.get(kind, ("a data role", "the resource"))
        scope = targets.keyvault_id if kind == "keyvault" else targets.storage_id
        error = check.get("error") or {}
        status = check.get("status")
        if status == 403:
            cause = (f"The identity has no data-plane role that allows '{check.get('action')}' "
                     f"on {where} ({error.get('code')}"
                     + (f"/{error['inner']}" if error.get("inner") else "") + "); control-"
                     "plane roles such as Reader do not grant data access.")
            fix = (f"az role assignment create --role \"{role}\" --assignee-object-id {oid} "
                   f"--assignee-principal-type ServicePrincipal --scope {scope}")
        elif status == 401:
            cause = f"{kind} refused the access token ({error.get('code')}: {error.get('message')})."
            fix = "Check the token audience and the tenant of the resource."
        elif status == 404:
            cause = f"{check.get('target')} does not exist ({error.get('code')})."
            fix = "Check the vault / container name."
        elif error.get("code", "").startswith("AADSTS"):
            cause, fix = explain(error["code"])
        else:
            cause = f"The {kind} check failed: {error.get('code')}: {error.get('message')}."
            fix = "Check network access from the pod to the resource (firewall, private link)."
        check["explanation"] = {"cause": cause, "fix": fix}
