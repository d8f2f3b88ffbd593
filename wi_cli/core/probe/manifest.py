"""The probe's objects: a ConfigMap holding the agent and a hardened one-shot pod that runs it.

The pod is what a workload would be: labelled for the webhook, under the service account, with
nothing mounted but the agent and what the webhook injects, as an unprivileged user with a
read-only root file system and no capabilities."""

from __future__ import annotations

import math
from importlib import resources
from typing import Any

from ..cloud import Cloud
from ..models import WI_USE_LABEL, ProbeRequest, ProbeTargets

AGENT_MOUNT = "/opt/wi-probe"
CONTAINER = "probe"
NOBODY = 65534
# Key Vault's token scope where it is not the public cloud's (the agent's default)
KEYVAULT_SCOPES = {"AzureChinaCloud": "https://vault.azure.cn/.default",
                   "AzureUSGovernment": "https://vault.usgovcloudapi.net/.default"}


def agent_source() -> str:
    return resources.files("wi_cli.agent").joinpath("agent.py").read_text(encoding="utf-8")


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "wi-probe", "app.kubernetes.io/managed-by": "wi",
            "app.kubernetes.io/instance": name}


def configmap_body(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": _labels(name)},
            "data": {"agent.py": agent_source()}}


def agent_env(cloud: Cloud, targets: ProbeTargets, waits: list[float] | None = None,
              retry_codes: list[str] | None = None) -> list[dict[str, Any]]:
    """The agent's WI_* variables (wi_cli/agent/agent.py lists them)."""
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
            "nodeSelector": {"kubernetes.io/os": "linux"},  # python3 images: not Windows nodes
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
