"""Running the probe through its ports, with in-memory ports (no lab, no cluster): what is
created and always deleted, the outcome of a pod whose report is unreadable, and the Azure side
read once. The lab integration tests (tests/integration/test_probe.py) run the same code
against a real API server and kubelet."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from wi_cli.core.cloud import resolve_cloud
from wi_cli.core.errors import ConfigError, KubernetesError
from wi_cli.core.models import (
    ArmResource,
    Event,
    FederatedCredential,
    Identity,
    Pod,
    ProbeRequest,
    ResourceId,
    ServiceAccount,
    ServiceAccountRef,
    Status,
    from_json,
)
from wi_cli.core.probe import ProbePorts, probe

CLOUD = resolve_cloud("AzureCloud", lambda url: None)
REPORT = 'WI-PROBE-REPORT {"schema": "wi-probe/v1", "env": {"missing": []}'  # cut off


class Pods:
    """The ProbePods port in memory: the pod ends at once with ``phase`` and ``log``."""

    def __init__(self, log: str = REPORT, phase: str = "Succeeded", **faults: Any) -> None:
        self.log, self.phase, self.faults = log, phase, faults
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.pod_env: dict[str, str] = {}

    server = "https://aks.example:443"

    def namespace_exists(self, namespace: str) -> bool:
        return namespace != "nowhere"

    def service_account(self, ref: ServiceAccountRef) -> ServiceAccount | None:
        return from_json(ServiceAccount, {"metadata": {
            "name": ref.name, "namespace": ref.namespace,
            "annotations": {"azure.workload.identity/client-id": "C1"}}})

    def create_config_map(self, namespace: str, manifest: dict[str, Any]) -> None:
        self.objects[("configmaps", manifest["metadata"]["name"])] = manifest

    def create_pod(self, namespace: str, manifest: dict[str, Any]) -> None:
        if "refuse" in self.faults:
            raise KubernetesError(self.faults["refuse"], status=400)
        self.objects[("pods", manifest["metadata"]["name"])] = manifest
        self.pod_env = {e["name"]: e.get("value", "")
                        for e in manifest["spec"]["containers"][0]["env"]}

    def pod(self, namespace: str, name: str) -> Pod | None:
        if ("pods", name) not in self.objects or self.faults.get("vanish"):
            return None
        return from_json(Pod, {"metadata": {"name": name}, "status": {
            "phase": self.phase, "containerStatuses": [{"name": "probe", "state": {
                "terminated": {"exitCode": 0, "reason": "Completed"}}}]}})

    def events_of(self, namespace: str, name: str) -> list[Event]:
        return []

    def pod_log(self, namespace: str, name: str, container: str, tail_lines: int) -> str:
        if "interrupt" in self.faults:
            raise KeyboardInterrupt
        return self.log

    def _delete(self, plural: str, name: str) -> bool:
        if "stuck" in self.faults:
            raise KubernetesError("Kubernetes refused the request (403): forbidden")
        return self.objects.pop((plural, name), None) is not None

    def delete_pod(self, namespace: str, name: str) -> bool:
        return self._delete("pods", name)

    def delete_config_map(self, namespace: str, name: str) -> bool:
        return self._delete("configmaps", name)


class Identities:
    """The Identities port with one identity (client id c1) and its credential."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.identity = Identity(ResourceId.parse(
            "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/id-app"), "c1", "p1", "t1")

    def list(self, subscription: str) -> list[Identity]:
        self.calls.append(f"list {subscription}")
        return [self.identity]

    def credentials(self, identity: Identity) -> builtins.list[FederatedCredential]:
        self.calls.append(f"credentials {identity.name}")
        return [FederatedCredential("app", "https://issuer/", "system:serviceaccount:demo:app")]


class Resources:
    def get(self, resource_id: str, api_version: str) -> ArmResource | None:
        return None

    def named(self, subscription: str, resource_type: str, api_version: str,
              name: str) -> ArmResource | None:
        return ArmResource(f"/subscriptions/{subscription}/resourceGroups/rg/providers/"
                           f"{resource_type}/{name}", name, {"vaultUri": "https://kv.example/"})


def run(pods: Pods, req: ProbeRequest | None = None, **azure: Any) -> Any:
    return probe(req or ProbeRequest("demo", "app", timeout=5), CLOUD, ProbePorts(pods, **azure))


def test_an_unreadable_report_is_a_failed_probe_and_nothing_is_left() -> None:
    pods = Pods()
    outcome = run(pods)
    assert outcome.outcome == "failed" and outcome.failed and outcome.report is None
    last = outcome.findings[-1]
    assert last.id == "probe.report" and last.status is Status.FAIL
    assert "cut off" in last.causes[0] and outcome.pod.exit_code == 0
    assert pods.objects == {}


def test_ctrl_c_while_reading_still_deletes_both_objects() -> None:
    pods = Pods(interrupt=True)
    with pytest.raises(KeyboardInterrupt):
        run(pods)
    assert pods.objects == {}


def test_keep_keeps_both_objects() -> None:
    pods = Pods()
    run(pods, ProbeRequest("demo", "app", timeout=5, keep=True))
    assert sorted(kind for kind, _ in pods.objects) == ["configmaps", "pods"]


def test_what_could_not_be_deleted_is_said() -> None:
    outcome = run(Pods(stuck=True))
    assert [p.split(":")[0] for p in outcome.cleanup] == [
        f"Could not delete pod demo/{outcome.pod_name}",
        f"Could not delete configmap demo/{outcome.pod_name}"]


def test_a_pod_deleted_while_waiting_is_an_error_and_the_configmap_goes() -> None:
    pods = Pods(vanish=True)
    with pytest.raises(KubernetesError, match="was deleted before it finished"):
        run(pods)
    assert not [k for k in pods.objects if k[0] == "configmaps"]


def test_an_admission_refusal_is_a_finding_not_an_error() -> None:
    pods = Pods(refuse='admission webhook "x" denied the request: no')
    outcome = run(pods)
    assert outcome.outcome == "refused" and outcome.findings[0].id == "probe.pod-admitted"
    assert outcome.pod.reason == "AdmissionRefused" and pods.objects == {}
    with pytest.raises(KubernetesError):  # any other refusal is an error
        run(Pods(refuse="quota exceeded"))


def test_the_identity_is_listed_once_and_its_scope_given_to_the_agent() -> None:
    identities, pods = Identities(), Pods()
    outcome = run(pods, identities=identities, resources=Resources(), subscription="s",
                  req=ProbeRequest("demo", "app", timeout=5, keyvault="kv-app"))
    assert identities.calls == ["list s", "credentials id-app"]
    assert outcome.targets.scopes == [
        "/subscriptions/s", "/subscriptions/s/resourceGroups/rg",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app"]
    assert pods.pod_env["WI_CHECK_KEYVAULT"] == "https://kv.example/"
    # ARM shows a credential for the subject of unknown age: the agent retries its codes
    assert "AADSTS700213" in pods.pod_env["WI_PROPAGATION_CODES"]


def test_a_data_plane_check_needs_a_subscription_and_nothing_is_created() -> None:
    pods = Pods()
    with pytest.raises(ConfigError, match="No Azure subscription is selected"):
        run(pods, ProbeRequest("demo", "app", keyvault="kv-app"))
    assert pods.objects == {}


def test_a_missing_service_account_is_a_missing_named_object() -> None:
    class NoAccount(Pods):
        def service_account(self, ref: ServiceAccountRef) -> ServiceAccount | None:
            return None

    pods = NoAccount()
    with pytest.raises(ConfigError, match="Service account demo/app does not exist") as caught:
        run(pods)
    assert caught.value.exit_code == 3 and pods.objects == {}  # as bind says it: exit 3


def test_a_missing_namespace_is_named_as_such() -> None:
    pods = Pods()
    with pytest.raises(ConfigError, match="^Namespace nowhere does not exist") as caught:
        probe(ProbeRequest("nowhere", "app"), CLOUD, ProbePorts(pods))
    assert "--create-namespace" in caught.value.remediation[0] and pods.objects == {}
