"""The lab's one node: schedules pods and really runs the ones it can, as local processes.

A pod runs when every container's ``command`` starts with ``python``/``python3`` (run with the
lab's own interpreter, so scripts can import the installed SDKs) or ``node``: its volumes are
materialised under a temporary root (ConfigMaps, Secrets, projected service account tokens
minted by the cluster's issuer and bound to the pod, downward API, emptyDir), absolute paths
under each mount are rewritten to that root in command, args and env, and the node's trust
store is the lab CA. Any other pod is scheduled and stays Pending, as if its image never
pulled; an image whose registry is under the reserved ``.invalid`` domain (RFC 2606), which no
real node can resolve either, fails to pull the way a kubelet reports it (ErrImagePull, then
ImagePullBackOff, with the events). :func:`seed_running_pod` stores a pod as already Running
without executing anything.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..http import Request, Response
from . import scheduler, standins
from .errors import ApiError
from .sa_tokens import pod_binding
from . import pod_logs, run_as
from .sandbox import MountError, PodSandbox, expand, field_value, object_data, rewrite_paths

if TYPE_CHECKING:
    from .cluster import KubeCluster

PYTHON_COMMANDS = re.compile(r"^python(3(\.\d+)?)?$")


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- which pods really run --------------------------------------------------------------------------
def executable_for(container: dict[str, Any]) -> str | None:
    """The local program that runs this container, or None when the lab cannot run it."""
    command = standins.resolve(container).get("command") or []
    if not command:
        return None
    program = os.path.basename(str(command[0]))
    if PYTHON_COMMANDS.match(program):
        return sys.executable
    if program == "node":
        return shutil.which("node")
    return None


def unpullable_image(pod: dict[str, Any]) -> str | None:
    """The first image whose registry host is under ``.invalid`` (it can never be pulled)."""
    for c in (pod["spec"].get("initContainers") or []) + (pod["spec"].get("containers") or []):
        image = c.get("image") or ""
        host = image.split("/", 1)[0] if "/" in image else ""
        if host.split(":", 1)[0].endswith(".invalid"):
            return image
    return None


def is_runnable(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    return bool(spec.get("containers")) and all(executable_for(c) for c in containers)


# -- process state ----------------------------------------------------------------------------------
@dataclass
class ContainerRun:
    name: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    container_id: str = field(default_factory=lambda: "containerd://" + uuid.uuid4().hex
                              + uuid.uuid4().hex)


@dataclass
class PodRun:
    namespace: str
    name: str
    uid: str
    sandbox: PodSandbox
    containers: dict[str, ContainerRun] = field(default_factory=dict)
    deleted: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    deadline_exceeded: bool = False
    thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kill(self) -> None:
        with self.lock:
            for c in self.containers.values():
                if c.process is not None and c.process.poll() is None:
                    c.process.kill()


class Kubelet:
    """The node agent of one lab cluster (installed by :func:`install_kubelet`)."""

    def __init__(self, cluster: "KubeCluster", node_name: str | None = None) -> None:
        self.cluster = cluster
        self.node_name = node_name or self._first_node()
        self.root = Path(tempfile.mkdtemp(prefix="wi-kubelet-"))
        self.runs: dict[str, PodRun] = {}  # by pod uid
        self._seeding: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._ips = itertools.count(20)
        self._stopped = threading.Event()

    def _first_node(self) -> str:
        items, _ = self.cluster.store.list("nodes")
        return items[0]["metadata"]["name"] if items else "lab-node"

    # -- wiring ---------------------------------------------------------------------------------
    def schedule(self, req: Any) -> dict[str, Any] | None:
        """Admission-time stand-in for the scheduler: bind new pods to this node."""
        if req.plural != "pods" or req.operation != "CREATE":
            return None
        spec = req.obj.setdefault("spec", {})
        if spec.get("nodeName") or not scheduler.fits(self.cluster, self.node_name, spec):
            return None  # an unschedulable pod stays unbound (see on_event)
        spec["nodeName"] = self.node_name
        return req.obj

    def on_event(self, event: str, plural: str, obj: dict[str, Any]) -> None:
        if plural != "pods" or self._stopped.is_set():
            return
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event == "ADDED":
            node = (obj.get("spec") or {}).get("nodeName")
            if key not in self._seeding and not node and not scheduler.fits(self.cluster, self.node_name,
                                                                 obj.get("spec") or {}) \
                    and not (obj.get("status") or {}).get("conditions"):
                threading.Thread(target=scheduler.unschedulable, args=(self, obj),
                                 daemon=True).start()
                return
            if key in self._seeding or node != self.node_name:
                return
            if (obj.get("status") or {}).get("phase") not in (None, "Pending"):
                return
            thread = threading.Thread(target=self._start_pod, args=(obj,), daemon=True,
                                      name=f"kubelet-{key[0]}-{key[1]}")
            thread.start()
        elif event == "DELETED":
            run = self.runs.get(meta.get("uid", ""))
            if run is not None:
                run.deleted.set()
                run.kill()

    def stop(self) -> None:
        self._stopped.set()
        for run in list(self.runs.values()):
            run.deleted.set()
            run.kill()
        for run in list(self.runs.values()):
            if run.thread is not None:
                run.thread.join(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- tokens ---------------------------------------------------------------------------------
    def mint_pod_token(self, pod: dict[str, Any], audience: str | None,
                       expiration_seconds: int) -> str:
        issuer = getattr(self.cluster, "sa_issuer", None)
        if issuer is None:
            raise MountError("the cluster has no service account issuer")
        namespace = pod["metadata"]["namespace"]
        sa_name = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        sa = self.cluster.store.try_get("serviceaccounts", namespace, sa_name)
        if sa is None:
            raise MountError(f'serviceaccounts "{sa_name}" not found')
        audiences = [audience] if audience else [issuer.url]
        return issuer.mint(namespace, sa_name, sa["metadata"].get("uid", ""), audiences,
                           int(expiration_seconds), pod_binding(self.cluster, pod)).token

    # -- pod lifecycle --------------------------------------------------------------------------
    def _start_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        self._set_status(meta["namespace"], meta["name"], meta["uid"], self._scheduled_status)
        self._record_event(pod, "Normal", "Scheduled",
                           f"Successfully assigned {meta['namespace']}/{meta['name']} to "
                           f"{self.node_name}", component="default-scheduler")
        unpullable = unpullable_image(pod)
        if unpullable:
            self._fail_pull(pod, unpullable)
            return
        if not is_runnable(pod):
            return  # the image "never pulls": scheduled, Pending, no container started
        sandbox = PodSandbox(self, pod)
        run = PodRun(meta["namespace"], meta["name"], meta["uid"], sandbox)
        run.thread = threading.current_thread()
        with self._lock:
            self.runs[meta["uid"]] = run
        current = self.cluster.store.try_get("pods", run.namespace, run.name)
        if current is None or current["metadata"].get("uid") != run.uid:
            return  # deleted before it started
        try:
            sandbox.setup()
        except (MountError, OSError) as exc:
            self._record_event(pod, "Warning", "FailedMount", f"MountVolume.SetUp failed: {exc}")
            return
        self._run_pod(pod, run)

    def _fail_pull(self, pod: dict[str, Any], image: str) -> None:
        meta = pod["metadata"]
        host = image.split("/", 1)[0]
        repo = image.split("/", 1)[1].split(":", 1)[0] if "/" in image else image
        reference = image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"
        pulled = (f'failed to pull and unpack image "{reference}": failed to resolve reference '
                  f'"{reference}": failed to do request: Head "https://{host}/v2/{repo}/manifests/'
                  f'{reference.rsplit(":", 1)[1]}": dial tcp: lookup {host}: no such host')
        self._record_event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        self._record_event(pod, "Warning", "Failed",
                           f'Failed to pull image "{image}": {pulled}')
        self._record_event(pod, "Warning", "Failed", "Error: ErrImagePull")
        for reason, message in (("ErrImagePull", pulled),
                                ("ImagePullBackOff", f'Back-off pulling image "{image}"')):
            self._set_status(meta["namespace"], meta["name"], meta["uid"],
                             lambda p, r=reason, m=message: self._waiting_status(p, r, m))
        self._record_event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"')
        self._record_event(pod, "Warning", "Failed", "Error: ImagePullBackOff")

    def _waiting_status(self, pod: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
        status = self._scheduled_status(pod)
        status["conditions"] = [_condition("PodScheduled", "True"),
                                _condition("Initialized", "True"),
                                _condition("ContainersReady", "False", "ContainersNotReady"),
                                _condition("Ready", "False", "ContainersNotReady")]
        status["containerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
            "started": False, "restartCount": 0, "lastState": {},
            "state": {"waiting": {"reason": reason, "message": message}},
        } for c in pod["spec"].get("containers", [])]
        return status

    def _run_pod(self, pod: dict[str, Any], run: PodRun) -> None:
        spec = pod.get("spec") or {}
        ip = f"10.244.0.{next(self._ips) % 250 + 2}"
        start = now_rfc3339()
        deadline = spec.get("activeDeadlineSeconds")
        timer = None
        if deadline:
            timer = threading.Timer(float(deadline), self._deadline_exceeded, args=(run,))
            timer.daemon = True
            timer.start()
        threading.Thread(target=run.sandbox.refresh_tokens, args=(run.done,), daemon=True,
                         name=f"kubelet-tokens-{run.name}").start()
        try:
            for init in spec.get("initContainers") or []:
                if standins.is_sidecar(init):  # runs beside the app, stopped with the pod
                    self._launch(pod, run, init, ip)
                    continue
                code = self._run_containers(pod, run, [init], ip, start, init=True)
                if code != 0 or run.deleted.is_set():
                    self._finish(pod, run, ip, start)
                    return
            self._run_containers(pod, run, spec.get("containers") or [], ip, start)
            self._stop_sidecars(run, spec.get("initContainers") or [])
            self._finish(pod, run, ip, start)
        finally:
            run.done.set()
            if timer is not None:
                timer.cancel()

    def _run_containers(self, pod: dict[str, Any], run: PodRun, containers: list[dict[str, Any]],
                        ip: str, start: str, init: bool = False) -> int:
        """Start the containers together and wait for all; returns the worst exit code."""
        for container in containers:
            if run.deleted.is_set():
                return 137
            self._launch(pod, run, container, ip)
        if not init:
            self._set_status(run.namespace, run.name, run.uid,
                             lambda p: self._running_status(p, run, ip, start))
        worst = 0
        for container in containers:
            c = run.containers[container["name"]]
            assert c.process is not None
            c.exit_code = c.process.wait()
            c.finished_at = now_rfc3339()
            if c.exit_code < 0:  # killed by a signal: report as the runtime does (128 + n)
                c.exit_code = 128 - c.exit_code
            c.reason = ("DeadlineExceeded" if run.deadline_exceeded else
                        "Completed" if c.exit_code == 0 else "Error")
            worst = worst or c.exit_code
        return worst

    def _stop_sidecars(self, run: PodRun, inits: list[dict[str, Any]]) -> None:
        for init in filter(standins.is_sidecar, inits):
            state = run.containers.get(init["name"])
            if state is not None and state.process is not None and state.exit_code is None:
                state.process.terminate()
                state.process.wait()
                state.exit_code, state.reason = 0, "Completed"
                state.finished_at = now_rfc3339()

    def _launch(self, pod: dict[str, Any], run: PodRun, container: dict[str, Any],
                ip: str) -> None:
        container = standins.resolve(container)
        mounts = run.sandbox.mounts_for(container)
        pod_for_env = copy.deepcopy(pod)
        pod_for_env.setdefault("status", {})["podIP"] = ip
        env = self.container_env(pod_for_env, container)
        env = {k: rewrite_paths(v, mounts) for k, v in env.items()}
        argv = [expand(str(a), env) for a in (container.get("command") or [])
                + (container.get("args") or [])]
        argv = [rewrite_paths(a, mounts) for a in argv]
        argv[0] = executable_for(container) or argv[0]
        cwd = rewrite_paths(container.get("workingDir") or "", mounts)
        if not cwd or not os.path.isdir(cwd):
            cwd = str(run.sandbox.dir)
        name = container["name"]
        self._record_event(pod, "Normal", "Pulled", f'Container image "{container.get("image", "")}" '
                                                    f"already present on machine")
        self._record_event(pod, "Normal", "Created", f"Created container: {name}")
        log_path = run.sandbox.logs_dir / f"{name}.log"
        state = ContainerRun(container["name"], log_path, started_at=now_rfc3339())
        user = self._user_for(pod, container, argv, run, cwd)
        if user:  # another user: the lab CA, as a node's trust store would be, readable to it
            ca = run.sandbox.dir / "lab-ca.pem"
            if not ca.exists():
                shutil.copyfile(self.cluster.lab.ca_file, ca)
                run_as.hand_over(run_as.wanted(pod, container), ca)
            for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
                if env.get(var) == str(self.cluster.lab.ca_file):
                    env[var] = str(ca)
        with log_path.open("wb") as log, run.lock:
            state.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log,
                                             stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL,
                                             start_new_session=True, **user)
            run.containers[container["name"]] = state
        self._record_event(pod, "Normal", "Started", f"Started container {name}")

    def _user_for(self, pod: dict[str, Any], container: dict[str, Any], argv: list[str],
                  run: PodRun, cwd: str) -> dict[str, Any]:
        """Popen's user arguments for the container's runAsUser/runAsGroup, or a Warning event
        when the lab cannot switch to them here (see run_as)."""
        wanted = run_as.wanted(pod, container)
        reason = run_as.why_not(wanted, argv[0], Path(cwd), tuple(argv[1:]))
        if reason:
            self._record_event(pod, "Warning", run_as.NOT_APPLIED,
                               f"Container {container['name']} runs as uid {os.geteuid()} gid "
                               f"{os.getegid()}, not as its securityContext asks (runAsUser "
                               f"{wanted.uid}, runAsGroup {wanted.gid}): {reason}.")
            return {}
        run_as.hand_over(wanted, run.sandbox.dir)
        return wanted.popen()

    def container_env(self, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
        """The process environment: node basics, the lab CA, then the container's env."""
        namespace = pod["metadata"]["namespace"]
        ca = str(self.cluster.lab.ca_file)
        host, _, port = self.cluster.url.removeprefix("https://").partition(":")
        env: dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOSTNAME": pod["metadata"]["name"],
            "HOME": "/root" if os.path.isdir("/root") and os.access("/root", os.W_OK)
            else tempfile.gettempdir(),
            "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca, "NODE_EXTRA_CA_CERTS": ca,
            "PYTHONUNBUFFERED": "1",
        }
        for source in container.get("envFrom") or []:
            env.update(self._env_from(namespace, source))
        for var in container.get("env") or []:
            value = self._env_value(pod, var)
            if value is not None:
                env[var["name"]] = expand(value, env)
        return env

    def _env_from(self, namespace: str, source: dict[str, Any]) -> dict[str, str]:
        prefix = source.get("prefix", "")
        for key, plural, kind in (("configMapRef", "configmaps", "configmap"),
                                  ("secretRef", "secrets", "secret")):
            ref = source.get(key)
            if ref is None:
                continue
            obj = self.cluster.store.try_get(plural, namespace, ref.get("name", ""))
            if obj is None:
                return {}
            return {prefix + k: v.decode(errors="replace")
                    for k, v in object_data(obj, kind).items()}
        return {}

    def _env_value(self, pod: dict[str, Any], var: dict[str, Any]) -> str | None:
        if "valueFrom" not in var:
            return str(var.get("value", ""))
        source = var["valueFrom"]
        namespace = pod["metadata"]["namespace"]
        if "fieldRef" in source:
            return field_value(pod, source["fieldRef"]["fieldPath"])
        for key, plural, kind in (("configMapKeyRef", "configmaps", "configmap"),
                                  ("secretKeyRef", "secrets", "secret")):
            ref = source.get(key)
            if ref is None:
                continue
            obj = self.cluster.store.try_get(plural, namespace, ref.get("name", ""))
            data = object_data(obj, kind) if obj else {}
            value = data.get(ref.get("key", ""))
            return value.decode(errors="replace") if value is not None else None
        return None  # resourceFieldRef and the rest: not set

    def _deadline_exceeded(self, run: PodRun) -> None:
        run.deadline_exceeded = True
        run.kill()

    def _finish(self, pod: dict[str, Any], run: PodRun, ip: str, start: str) -> None:
        if run.deleted.is_set():
            return
        self._set_status(run.namespace, run.name, run.uid,
                         lambda p: self._terminal_status(p, run, ip, start))

    # -- status ---------------------------------------------------------------------------------
    def _set_status(self, namespace: str, name: str, uid: str, build: Any) -> None:
        for _ in range(20):
            pod = self.cluster.store.try_get("pods", namespace, name)
            if pod is None or pod["metadata"].get("uid") != uid:
                return
            pod["status"] = build(pod)
            try:
                self.cluster.store.update("pods", namespace, pod, subresource="status",
                                          user=f"system:node:{self.node_name}")
                return
            except ApiError as exc:
                if exc.status != 409:
                    raise
        raise RuntimeError(f"could not update the status of pod {namespace}/{name}")

    def _base_status(self, pod: dict[str, Any]) -> dict[str, Any]:
        status = copy.deepcopy(pod.get("status") or {})
        status.setdefault("qosClass", "BestEffort")
        return status

    def _scheduled_status(self, pod: dict[str, Any]) -> dict[str, Any]:
        status = self._base_status(pod)
        status["phase"] = "Pending"
        status["conditions"] = [_condition("PodScheduled", "True")]
        return status

    def _running_status(self, pod: dict[str, Any], run: PodRun, ip: str,
                        start: str) -> dict[str, Any]:
        status = self._base_status(pod)
        status.update(phase="Running", hostIP="10.224.0.4", podIP=ip, podIPs=[{"ip": ip}],
                      startTime=start)
        status["conditions"] = [_condition(t, "True") for t in (
            "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
            "PodScheduled")]
        status["containerStatuses"] = [
            _container_status(c, run.containers.get(c["name"]), ready=True)
            for c in (pod.get("spec") or {}).get("containers") or []]
        inits = (pod.get("spec") or {}).get("initContainers") or []
        if inits:
            status["initContainerStatuses"] = [
                _container_status(c, run.containers.get(c["name"]), ready=False) for c in inits]
        return status

    def _terminal_status(self, pod: dict[str, Any], run: PodRun, ip: str,
                         start: str) -> dict[str, Any]:
        status = self._running_status(pod, run, ip, start)
        codes = [c.exit_code for c in run.containers.values()]
        failed = run.deadline_exceeded or any(code != 0 for code in codes)
        status["phase"] = "Failed" if failed else "Succeeded"
        if run.deadline_exceeded:
            status["reason"] = "DeadlineExceeded"
            status["message"] = "Pod was active on the node longer than the specified deadline"
        reason = "PodFailed" if failed else "PodCompleted"
        status["conditions"] = [
            _condition("PodReadyToStartContainers", "False"),
            _condition("Initialized", "True"),
            _condition("Ready", "False", reason), _condition("ContainersReady", "False", reason),
            _condition("PodScheduled", "True")]
        for key in ("containerStatuses", "initContainerStatuses"):
            for cs in status.get(key) or []:
                cs["ready"] = False
                cs["started"] = False
        return status

    def _record_event(self, pod: dict[str, Any], type_: str, reason: str, message: str,
                      component: str = "kubelet") -> None:
        meta = pod["metadata"]
        now = now_rfc3339()
        try:
            self.cluster.store.create("events", meta["namespace"], {
                "metadata": {"generateName": f"{meta['name']}."},
                "involvedObject": {"kind": "Pod", "namespace": meta["namespace"],
                                   "name": meta["name"], "uid": meta.get("uid"),
                                   "apiVersion": "v1"},
                "reason": reason, "message": message, "type": type_,
                "source": {"component": component, "host": self.node_name}
                if component == "kubelet" else {"component": component},
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "reportingComponent": component,
                "reportingInstance": self.node_name if component == "kubelet" else "",
            })
        except ApiError:
            pass

    def serve_log(self, req: Request, namespace: str, name: str) -> Response:
        return pod_logs.serve_log(self, req, namespace, name)

def _condition(type_: str, status: str, reason: str | None = None) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": type_, "status": status, "lastProbeTime": None,
                            "lastTransitionTime": now_rfc3339()}
    if reason:
        cond["reason"] = reason
    return cond


def _container_status(container: dict[str, Any], run: ContainerRun | None,
                      ready: bool) -> dict[str, Any]:
    image = container.get("image", "")
    status: dict[str, Any] = {
        "name": container["name"], "image": image, "imageID": f"{image}@sha256:" + "0" * 64,
        "containerID": run.container_id if run else "containerd://" + uuid.uuid4().hex * 2,
        "restartCount": 0, "ready": ready, "started": ready,
    }
    if run is None or run.exit_code is None:
        status["state"] = {"running": {"startedAt": run.started_at if run else now_rfc3339()}}
    else:
        status["state"] = {"terminated": {
            "exitCode": run.exit_code, "reason": run.reason, "startedAt": run.started_at,
            "finishedAt": run.finished_at, "containerID": status["containerID"]}}
        status["ready"] = False
    status["lastState"] = {}
    return status


# -- entry points -----------------------------------------------------------------------------------
def install_kubelet(cluster: "KubeCluster") -> Kubelet:
    """Start this cluster's node agent: scheduling, running pods, and ``pods/log``."""
    existing = getattr(cluster, "kubelet", None)
    if existing is not None:
        return existing
    kubelet = Kubelet(cluster)
    cluster.add_admission_hook(kubelet.schedule)
    cluster.store.subscribe(kubelet.on_event)
    cluster.register_subresource("pods", "log", "GET", kubelet.serve_log)
    cluster.kubelet = kubelet  # type: ignore[attr-defined]
    return kubelet


def seed_running_pod(cluster: "KubeCluster", pod: dict[str, Any]) -> dict[str, Any]:
    """Store ``pod`` as already Running with ready containers; nothing is executed."""
    kubelet: Kubelet | None = getattr(cluster, "kubelet", None)
    pod = copy.deepcopy(pod)
    meta = pod.setdefault("metadata", {})
    namespace = meta.get("namespace") or "default"
    key = (namespace, meta.get("name", ""))
    spec = pod.setdefault("spec", {})
    node = kubelet.node_name if kubelet else None
    if not spec.get("nodeName"):
        items, _ = cluster.store.list("nodes")
        spec["nodeName"] = node or (items[0]["metadata"]["name"] if items else "lab-node")
    if kubelet is not None:
        kubelet._seeding.add(key)
    try:
        created = cluster.store.create("pods", namespace, pod)
    finally:
        if kubelet is not None:
            kubelet._seeding.discard(key)
    ip = f"10.244.0.{(next(kubelet._ips) if kubelet else 10) % 250 + 2}"
    created["status"] = {
        "phase": "Running", "hostIP": "10.224.0.4", "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": now_rfc3339(), "qosClass": "BestEffort",
        "conditions": [_condition(t, "True") for t in (
            "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
            "PodScheduled")],
        "containerStatuses": [_container_status(c, None, ready=True)
                              for c in spec.get("containers") or []],
    }
    return cluster.store.update("pods", namespace, created, subresource="status")
