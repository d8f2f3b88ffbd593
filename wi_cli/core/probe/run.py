"""Running the probe: the ConfigMap and pod created, the pod watched until it ends (or is stuck,
or time runs out), its report read from the last ``WI-PROBE-REPORT {json}`` line of its log, and
both objects deleted whatever happens (Ctrl-C included) unless ``keep``."""

from __future__ import annotations

import secrets
import time
from typing import Callable

from ..cloud import Cloud
from ..errors import ConfigError, KubernetesError, RemoteError, WiError
from ..models import (
    ArmView,
    Cluster,
    Event,
    Pod,
    PodRun,
    ProbeOutcome,
    ProbeReportError,
    ProbeRequest,
    ProbeTargets,
    ServiceAccountRef,
    propagation_waits,
    read_report,
)
from ..ports import ProbePods
from . import verdict
from .manifest import CONTAINER, agent_env, configmap_body, pod_body
from .targets import ProbePorts, resolve, validate

POLL_SECONDS = 0.25
LOG_LINES = 200  # the report is the agent's last line; the lines before it explain a failure
# container "waiting" reasons that will not fix themselves within a probe's lifetime
STUCK_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                           "ErrImageNeverPull", "CreateContainerConfigError",
                           "CreateContainerError", "RunContainerError"})


class ProbeTimeout(RemoteError):
    """The pod did not finish in time (exit 4)."""


def probe(req: ProbeRequest, cloud: Cloud, ports: ProbePorts,
          on_phase: Callable[[str], None] = lambda phase: None) -> ProbeOutcome:
    validate(req)
    ref = ServiceAccountRef(req.namespace, req.service_account)
    if not ports.pods.namespace_exists(ref.namespace):
        raise ConfigError(f"Namespace {ref.namespace} does not exist.",
                          [f"Create it with a bound service account: wi bind {ref.name} IDENTITY "
                           f"-n {ref.namespace} --create --create-namespace"])
    sa = ports.pods.service_account(ref)
    if sa is None:
        raise ConfigError(f"Service account {ref.label} does not exist.",
                          [f"Create and bind it: wi bind {ref.name} IDENTITY -n "
                           f"{ref.namespace} --create"])
    targets, arm = resolve(req, ports, sa.client_id or None)
    retry_codes = arm.retry_codes(ref.subject)
    waits = propagation_waits(req.propagation_wait) if retry_codes != [] else []
    name = f"wi-probe-{secrets.token_hex(3)}"
    pods = ports.pods
    on_phase("Creating")
    created = False
    outcome: ProbeOutcome | None = None
    try:
        # cleaned up even when the answer to this create never came (Ctrl-C, a lost
        # connection): the API server may have made it (deleting what is not there is a no-op)
        created = True
        pods.create_config_map(req.namespace, configmap_body(name, req.namespace))
        try:
            pods.create_pod(req.namespace, pod_body(name, req, agent_env(cloud, targets, waits,
                                                                         retry_codes)))
        except KubernetesError as exc:
            if not _admission_refusal(exc):
                raise
            outcome = ProbeOutcome(req, name, "refused", None, targets,
                                   verdict.refused(req, exc.message),
                                   PodRun(None, "AdmissionRefused", exc.message))
            return outcome
        pod = _wait(req, pods, name, on_phase)
        outcome = _outcome(req, pods, name, targets, pod, arm, ports.aks_cluster)
        return outcome
    finally:
        if created and not req.keep:
            problems = _cleanup(pods, req.namespace, name)
            if outcome is not None:
                outcome.cleanup.extend(problems)


def _admission_refusal(exc: KubernetesError) -> bool:
    text = exc.message.lower()
    return any(s in text for s in ("admission webhook", "failed calling webhook",
                                   "violates podsecurity"))


def _wait(req: ProbeRequest, pods: ProbePods, name: str,
          on_phase: Callable[[str], None]) -> Pod:
    """The pod once it has ended or is stuck (a waiting reason that will not fix itself)."""
    deadline = time.monotonic() + req.timeout
    shown = ""
    while True:
        pod = pods.pod(req.namespace, name)
        if pod is None:
            raise KubernetesError(f"The probe pod {req.namespace}/{name} was deleted before it "
                                  "finished.", ["Check for a controller or policy that deletes "
                                                "pods in the namespace, then re-run."])
        phase = pod.status.phase or "Pending"
        if phase != shown:
            on_phase(phase)
            shown = phase
        if phase in ("Succeeded", "Failed") or _waiting(pod) is not None:
            return pod
        if time.monotonic() >= deadline:
            event = _last_event(pods, req.namespace, name)
            why = f" Last event: {event.reason}: {event.message}" if event else ""
            raise ProbeTimeout(
                f"The probe pod {req.namespace}/{name} did not finish within "
                f"{req.timeout:g}s (phase {phase}).{why}",
                ["Check 'kubectl describe pod' (image pull, scheduling, quota), or allow more "
                 "time with --timeout; --keep keeps the pod for a look."])
        time.sleep(POLL_SECONDS)


def _waiting(pod: Pod) -> tuple[str, str] | None:
    """(reason, message) of a container stuck waiting."""
    for status in pod.status.container_statuses:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in STUCK_REASONS:
            return waiting.reason or "", waiting.message or ""
    return None


def _last_event(pods: ProbePods, namespace: str, name: str) -> Event | None:
    """The event that says most about the pod: the last warning, skipping the "Error: ..."
    lines that only repeat a reason (the event before says why)."""
    try:
        events = pods.events_of(namespace, name)
    except WiError:
        return None
    warnings = [e for e in events if e.type == "Warning"] or events
    telling = [e for e in warnings if not (e.message or "").startswith("Error: ")] or warnings
    return telling[-1] if telling else None


def _outcome(req: ProbeRequest, pods: ProbePods, name: str, targets: ProbeTargets, pod: Pod,
             arm: ArmView, aks_cluster: Callable[[], Cluster | None]) -> ProbeOutcome:
    phase = pod.status.phase
    stuck = _waiting(pod)
    if stuck is not None and phase not in ("Succeeded", "Failed"):
        reason, message = stuck
        event = _last_event(pods, req.namespace, name)
        detail = [event.message] if event and event.message not in (None, "", message) else []
        return ProbeOutcome(req, name, "failed", None, targets,
                            verdict.never_started(reason, message, [str(d) for d in detail]),
                            PodRun(phase, reason, message))
    term = next((s.state.terminated for s in pod.status.container_statuses
                 if s.name == CONTAINER and s.state and s.state.terminated), None)
    run = PodRun(phase, (term.reason if term else None) or pod.status.reason,
                 exit_code=term.exit_code if term else None)
    log = _read_log(pods, req.namespace, name)
    try:
        report = read_report(log)
    except ProbeReportError as exc:
        return ProbeOutcome(req, name, "failed", None, targets,
                            verdict.unreadable_report(phase, exc.message, exc.remediation), run)
    if report is None:
        tail = [line for line in log.splitlines() if line.strip()][-10:]
        return ProbeOutcome(req, name, "failed", None, targets,
                            verdict.no_report(phase, tail, pod.status.reason),
                            PodRun(run.phase, run.reason, exit_code=run.exit_code,
                                   log_tail=tuple(tail)))
    cluster = aks_cluster() if "AZURE_FEDERATED_TOKEN_FILE" in report.missing else None
    report, findings = verdict.conclude(report, req, targets, arm, phase, cluster)
    return ProbeOutcome(req, name, "completed", report, targets, findings, run)


def _read_log(pods: ProbePods, namespace: str, name: str) -> str:
    """The agent's log; none when the container has none to give (400, 404). Any other
    refusal or outage is raised: a pod that ran must not pass for one without a report."""
    try:
        return pods.pod_log(namespace, name, CONTAINER, LOG_LINES)
    except KubernetesError as exc:
        if exc.status in (400, 404):
            return ""
        raise


def _cleanup(pods: ProbePods, namespace: str, name: str) -> list[str]:
    """Delete the pod, then the ConfigMap. A Ctrl-C in the middle does not leave the rest: the
    delete it cut short is sent again (deleting what is gone is a no-op), the others follow,
    and the interrupt goes on afterwards; a second Ctrl-C stops at once."""
    problems = []
    stopped: KeyboardInterrupt | None = None
    for what, delete in (("pod", pods.delete_pod), ("configmap", pods.delete_config_map)):
        for attempt in (1, 2):
            try:
                delete(namespace, name)
            except WiError as exc:
                problems.append(f"Could not delete {what} {namespace}/{name}: {exc.message}")
            except KeyboardInterrupt as exc:
                if stopped is not None or attempt == 2:
                    raise
                stopped = exc
                continue
            break
    if stopped is not None:
        raise stopped
    return problems
