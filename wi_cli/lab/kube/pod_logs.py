"""The kubelet's log endpoint (``GET /api/v1/namespaces/NS/pods/NAME/log``): what a container
printed, read from the file the kubelet writes it to, with ``container``, ``tailLines`` and
``follow`` as the real API server proxies them to the kubelet."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..http import Request, Response, json_response
from .errors import ApiError

if TYPE_CHECKING:
    from .kubelet import ContainerRun, Kubelet

LOG_LIMIT_BYTES = 4 * 1024 * 1024


def serve_log(kubelet: "Kubelet", req: Request, namespace: str, name: str) -> Response:
    """GET pods/{name}/log: a container's output, ``tailLines`` and ``follow`` honoured."""
    pod = kubelet.cluster.store.try_get("pods", namespace, name)
    if pod is None:
        return _status(404, "NotFound", f'pods "{name}" not found',
                       {"name": name, "kind": "pods"})
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    all_names = [c["name"] for c in spec.get("initContainers") or []] + names
    container = req.arg("container")
    if not container:
        if len(names) != 1:
            return _status(400, "BadRequest",
                           f"a container name must be specified for pod {name}, choose one "
                           f"of: [{' '.join(names)}]")
        container = names[0]
    if container not in all_names:
        return _status(400, "BadRequest",
                       f"container {container} is not valid for pod {name}")
    run = kubelet.runs.get(pod["metadata"].get("uid", ""))
    state = run.containers.get(container) if run else None
    if state is None:
        if (pod.get("status") or {}).get("phase") == "Running":
            return Response(200, b"", {"Content-Type": "text/plain"})  # seeded: silent
        return _status(400, "BadRequest", f'container "{container}" in pod "{name}" is '
                                          f"waiting to start: ContainerCreating")
    tail = req.arg("tailLines")
    tail_lines = int(tail) if tail and tail.lstrip("-").isdigit() else None
    if req.arg("follow") in ("true", "1"):
        return Response(200, _follow(kubelet, state, tail_lines), {"Content-Type": "text/plain"})
    return Response(200, _tail(_read_log(state.log_path), tail_lines),
                    {"Content-Type": "text/plain"})

def _follow(kubelet: "Kubelet", state: "ContainerRun", tail_lines: int | None) -> Iterator[bytes]:
    sent = 0
    first = True
    while True:
        data = _read_log(state.log_path)
        if first:
            chunk = _tail(data, tail_lines)
            first = False
        else:
            chunk = data[sent:]
        sent = len(data)
        if chunk:
            yield chunk
        if state.exit_code is not None or kubelet._stopped.is_set():
            rest = _read_log(state.log_path)[sent:]
            if rest:
                yield rest
            return
        time.sleep(0.1)


def _read_log(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError:
        return b""
    return data[-LOG_LIMIT_BYTES:]


def _tail(data: bytes, lines: int | None) -> bytes:
    if lines is None or lines < 0:
        return data
    if lines == 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


def _status(code: int, reason: str, message: str,
            details: dict[str, Any] | None = None) -> Response:
    return json_response(code, ApiError(code, reason, message, details).to_status(),
                         content_type="application/json")
