"""Doctor check of the identity layer about the pods: do they present the projected
workload-identity token (not the default service-account token), with a lifetime and audience
Entra accepts."""

from __future__ import annotations

from ...core.models import Container, Pod, is_token_volume
from ..facts.webhook import Audience
from ..facts.workloads import Key
from ..registry import Report, check
from ..targets import of_pod
from .identity import DOCS_WI

DEFAULT_SA_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MAX_PROJECTED_SECONDS = 86400


# -- the token pods present -----------------------------------------------------------------------

@check("identity.token-source", "Pods present the projected token", layer="identity",
       failure_modes=(16,), docs=DOCS_WI)
def token_source(report: Report, subjects: list[Key],
                 pods_by_service_account: dict[Key, list[Pod]],
                 token_audience: Audience) -> None:
    audience = token_audience.audience
    for ns, name in subjects:
        for pod in pods_by_service_account.get((ns, name), []):
            report = report.about(of_pod(pod))
            problems = pod_token_problems(pod, audience)
            label = f"{ns}/{pod.metadata.name} (service account {name})"
            if not problems:
                report.ok(f"{label}: the workload-identity token is projected with a valid "
                          "lifetime and audience.")
                continue
            report.fail(f"{label}: {'; '.join(problems)}. Entra will answer AADSTS70023 "
                        "(lifetime) or AADSTS700212 (audience).",
                        expected={"token": "$AZURE_FEDERATED_TOKEN_FILE (projected)",
                                  "expirationSeconds": f"<= {MAX_PROJECTED_SECONDS}",
                                  "audience": audience},
                        actual=problems,
                        fix="Read the token from $AZURE_FEDERATED_TOKEN_FILE as the webhook sets "
                            "it (WorkloadIdentityCredential does), keep "
                            "azure.workload.identity/service-account-token-expiration within "
                            "3600-86400, then restart the pod.",
                        commands=[f"kubectl delete pod {pod.metadata.name} -n {ns}"])


def pod_token_problems(pod: Pod, audience: str) -> list[str]:
    problems = []
    for vol in pod.spec.volumes:
        if not vol.projected or not _is_wi_volume(vol.name, pod):
            continue
        for src in vol.projected.sources:
            token = src.service_account_token
            if token is None:
                continue
            if (token.expiration_seconds or 3600) > MAX_PROJECTED_SECONDS:
                problems.append(f"volume {vol.name} asks for tokens living "
                                f"{token.expiration_seconds} s (more than 1 day)")
            if token.audience != audience:
                problems.append(f"volume {vol.name} asks for audience {token.audience!r}")
    for c in (*pod.spec.init_containers, *pod.spec.containers):
        problems.extend(_default_token_reads(c))
    return problems


def _is_wi_volume(name: str, pod: Pod) -> bool:
    if is_token_volume(name):
        return True
    token_file = next((e.value for c in pod.spec.containers for e in c.env
                       if e.name == "AZURE_FEDERATED_TOKEN_FILE" and e.value), None)
    if not token_file:
        return False
    return any(token_file.startswith(m.mount_path.rstrip("/") + "/")
               for c in pod.spec.containers for m in c.volume_mounts if m.name == name)


def _default_token_reads(container: Container) -> list[str]:
    found = []
    for e in container.env:
        if e.value and DEFAULT_SA_TOKEN_PATH in e.value and (
                e.name == "AZURE_FEDERATED_TOKEN_FILE" or "AZURE" in e.name.upper()):
            found.append(f"container {container.name} sets {e.name}={e.value}: the default "
                         "service-account token (long-lived on AKS, audience = the API server)")
    for arg in (*container.command, *container.args):
        if DEFAULT_SA_TOKEN_PATH in arg and "federated" in arg.lower():
            found.append(f"container {container.name} passes the default service-account "
                         "token as the federated token")
            break
    return found
