"""Doctor checks of the workload layer: service accounts, their annotations, the pods and
Deployments that use them (label, injected env and token, credential variables that shadow
workload identity, proxy sidecar, Windows, skipped containers)."""

from . import platform, pods, service_account  # noqa: F401 - importing registers them
