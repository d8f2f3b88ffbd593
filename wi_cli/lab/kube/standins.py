"""Stand-ins for the images the lab's node knows by name but cannot run: the workload identity
webhook's ``azwi-proxy-init`` and ``azwi-proxy`` (mcr.microsoft.com/oss/azure/workload-identity/
proxy-init and proxy, injected for ``azure.workload.identity/inject-proxy-sidecar``).

The lab runs pods as local processes with no network namespace of their own, so the iptables
rule that sends 169.254.169.254:80 to the proxy cannot exist and every pod's proxy would want the
same port: the init container exits 0 at once (its rules applied), and the proxy stays up as a
sidecar, listening nowhere, until the pod stops. Pods with the proxy start and become Ready, as
they do on a cluster; IMDS calls through the proxy are not emulated.
"""

from __future__ import annotations

import copy
from typing import Any

PROXY_REPO = "mcr.microsoft.com/oss/azure/workload-identity/"
_PROGRAMS = {
    "proxy-init": "print('iptables rules for 169.254.169.254 applied (lab stand-in)')",
    "proxy": ("import signal, time; signal.signal(signal.SIGTERM, lambda *_: exit(0)); "
              "print('azwi-proxy started (lab stand-in: IMDS not served)', flush=True); "
              "time.sleep(86400)"),
}


def _repository(image: str) -> str:
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition("/")
    return f"{head}/{tail.split(':', 1)[0]}" if head else name.split(":", 1)[0]


def resolve(container: dict[str, Any]) -> dict[str, Any]:
    """The container as the node runs it: a known image gets its stand-in's python command."""
    repo = _repository(str(container.get("image") or ""))
    if not repo.startswith(PROXY_REPO):
        return container
    program = _PROGRAMS.get(repo[len(PROXY_REPO):])
    if program is None:
        return container
    out = copy.deepcopy(container)
    out["command"], out["args"] = ["python3", "-c", program], []
    return out


def is_sidecar(container: dict[str, Any]) -> bool:
    """A native sidecar (an init container with restartPolicy Always, Kubernetes >= 1.29): it
    starts in order with the init containers and runs beside the app until the pod stops."""
    return container.get("restartPolicy") == "Always"
