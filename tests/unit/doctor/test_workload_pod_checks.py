"""The workload layer's pod checks on plain values (wi_cli/doctor/checks/workload/pods.py): the
label, what the webhook injected (pods mutated by the lab's webhook function), and what in the
pod spec undoes it."""

from __future__ import annotations

import json

from checkrun import commands, covers, one, run
from values import (
    CLIENT_ID,
    NS,
    OTHER_CLIENT_ID,
    SA,
    container,
    deployment,
    deployment_and_pods,
    mutate,
    pod,
    pod_manifest,
    service_account,
)
from wi_cli.core.models import WI_USE_LABEL, Pod, Status, from_json
from wi_cli.doctor.facts.workloads import EnvSources

RECREATE = f"kubectl get pod worker -n {NS} -o yaml | kubectl replace --force -f -"
RESTART_WEB = f"kubectl rollout restart deployment/web -n {NS}"
SKIP = "azure.workload.identity/skip-containers"


def merge_patch(command: str) -> dict:
    assert " --type=merge -p '" in command
    return json.loads(command.split(" -p ", 1)[1].strip("'"))


def json_patch(command: str) -> list[dict]:
    assert " --type=json -p '" in command
    return json.loads(command.split(" -p ", 1)[1].strip("'"))


# -- workload.pod-label ---------------------------------------------------------------------------

@covers("workload.pod-label")
def test_labelled_pod_template() -> None:
    d, pods = deployment_and_pods("web")
    f = one(run("workload.pod-label", service_accounts=[service_account()], deployments=[d],
                pods=pods))
    assert f.status == Status.OK
    assert f.summary == (f"deployment {NS}/web (service account {SA}) is labelled "
                         f"{WI_USE_LABEL}=true.")


@covers("workload.pod-label", 1)
def test_label_on_the_deployment_instead_of_its_template_fails_with_a_template_patch() -> None:
    d, pods = deployment_and_pods("web", labelled=False, labels={WI_USE_LABEL: "true"})
    f = one(run("workload.pod-label", service_accounts=[service_account()], deployments=[d],
                pods=pods))
    assert f.status == Status.FAIL
    assert "the label is on the Deployment's metadata, not on its pod template" in f.summary
    assert "no token file and no AZURE_* variables" in f.summary
    assert f.evidence.actual == {"pod labels": None, "deployment labels": "true",
                                 "service account labels": None}
    (patch,) = commands(f)
    assert patch.startswith(f"kubectl patch deployment web -n {NS} ")
    assert merge_patch(patch) == {"spec": {"template": {"metadata": {"labels": {
        WI_USE_LABEL: "true"}}}}}


@covers("workload.pod-label", 1)
def test_label_value_other_than_true_on_a_bare_pod() -> None:
    bare = pod(labelled=False, labels={WI_USE_LABEL: "True"})
    f = one(run("workload.pod-label", service_accounts=[service_account()], pods=[bare]))
    assert f.status == Status.FAIL
    assert "label is 'True', not \"true\"" in f.summary
    assert commands(f) == [f"kubectl label pod worker -n {NS} {WI_USE_LABEL}=true --overwrite",
                           RECREATE]


@covers("workload.pod-label", 2)
def test_label_on_the_service_account_only_is_the_pre_1_0_contract() -> None:
    sa = service_account(labels={WI_USE_LABEL: "true"})
    f = one(run("workload.pod-label", service_accounts=[sa], pods=[pod(labelled=False)]))
    assert f.status == Status.FAIL
    assert "on the service account only (the pre-1.0 contract)" in f.summary
    assert f.evidence.actual["service account labels"] == "true"
    assert commands(f)[0].startswith("kubectl label pod worker ")


def test_pod_label_skips_a_service_account_nothing_uses() -> None:
    f = one(run("workload.pod-label", service_accounts=[service_account()]))
    assert f.status == Status.SKIP and "no pod or Deployment uses it yet" in f.summary


# -- workload.injection ---------------------------------------------------------------------------

@covers("workload.injection")
def test_mutated_pod_carries_token_and_env() -> None:
    f = one(run("workload.injection", service_accounts=[service_account()], pods=[pod()]))
    assert f.status == Status.OK
    assert f.summary == (f"pod {NS}/worker: token volume and AZURE_* variables present, "
                         f"AZURE_CLIENT_ID {CLIENT_ID}.")


def test_v1_5_layout_is_recognised() -> None:
    f = one(run("workload.injection", service_accounts=[service_account()],
                pods=[pod(layout="v1.5")]))
    assert f.status == Status.OK


@covers("workload.injection", 5)
def test_labelled_bare_pod_never_mutated_is_recreated() -> None:
    # created while the webhook was down with failurePolicy Ignore
    f = one(run("workload.injection", service_accounts=[service_account()],
                pods=[pod(mutated=False)]))
    assert f.status == Status.FAIL
    assert "labelled but was never mutated" in f.summary and "failurePolicy Ignore" in f.summary
    assert f.evidence.actual == "neither"
    assert commands(f) == [RECREATE]


@covers("workload.injection", 24)
def test_labelled_deployment_pod_without_env_is_rolled_out_again() -> None:
    # no AZURE_* variables: DefaultAzureCredential falls back to the node's IMDS identity
    d, pods = deployment_and_pods("web", mutated=False)
    f = one(run("workload.injection", service_accounts=[service_account()], deployments=[d],
                pods=pods))
    assert f.status == Status.FAIL and "never mutated" in f.summary
    assert commands(f) == [RESTART_WEB]


@covers("workload.injection", 34)
def test_sidecar_added_after_the_webhook_ran_fails() -> None:
    manifest = mutate(pod_manifest())
    manifest["spec"]["containers"].append(container("istio-proxy", image="istio/proxyv2"))
    f = one(run("workload.injection", service_accounts=[service_account()],
                pods=[from_json(Pod, manifest)]))
    assert f.status == Status.FAIL
    assert "containers istio-proxy got no AZURE_* variables while others did" in f.summary
    assert "reinvocationPolicy" in f.summary
    assert f.evidence.actual == ["istio-proxy"]
    assert commands(f) == [RECREATE]


@covers("workload.injection", 6)
def test_pod_created_before_the_client_id_changed_is_restarted() -> None:
    d, pods = deployment_and_pods("web", client_id=OTHER_CLIENT_ID)
    f = one(run("workload.injection", service_accounts=[service_account()], deployments=[d],
                pods=pods))
    assert f.status == Status.FAIL
    assert "AZURE_CLIENT_ID does not match" in f.summary and "before the service account" \
        in f.summary
    assert (f.evidence.expected, f.evidence.actual) == (CLIENT_ID, {"app": OTHER_CLIENT_ID})
    assert commands(f) == [RESTART_WEB]


def test_finished_pod_with_old_settings_is_history() -> None:
    job_pod = pod(client_id=OTHER_CLIENT_ID, phase="Succeeded")
    f = one(run("workload.injection", service_accounts=[service_account()], pods=[job_pod]))
    assert f.status == Status.OK and "finished (Succeeded)" in f.summary


def test_skipped_and_proxy_containers_need_no_injection() -> None:
    manifest = pod_manifest(annotations={SKIP: "logger",
                                         "azure.workload.identity/inject-proxy-sidecar": "true"},
                            containers=[container("app"), container("logger")])
    f = one(run("workload.injection", service_accounts=[service_account()],
                pods=[from_json(Pod, mutate(manifest))]))
    assert f.status == Status.OK


def test_injection_reports_nothing_without_labelled_pods() -> None:
    assert run("workload.injection", service_accounts=[service_account()],
               pods=[pod(labelled=False)]) == []


# -- workload.env-shadowing -----------------------------------------------------------------------

@covers("workload.env-shadowing")
def test_no_credential_variables() -> None:
    f = one(run("workload.env-shadowing", service_accounts=[service_account()], pods=[pod()],
                env_source_keys=EnvSources({})))
    assert f.status == Status.OK and f.summary.startswith(f"pod {NS}/worker: no ")


@covers("workload.env-shadowing", 23)
def test_client_secret_in_the_template_env_is_removed_with_set_env() -> None:
    d, pods = deployment_and_pods("web", containers=[container(
        env={"AZURE_CLIENT_SECRET": "from-a-manifest"})])
    f = one(run("workload.env-shadowing", service_accounts=[service_account()],
                deployments=[d], pods=pods, env_source_keys=EnvSources({})))
    assert f.status == Status.FAIL
    assert "AZURE_CLIENT_SECRET in container app (env)" in f.summary
    assert "DefaultAzureCredential signs in with these" in f.summary
    assert f.evidence.actual == [{"container": "app", "variable": "AZURE_CLIENT_SECRET",
                                  "from": "env"}]
    assert "from-a-manifest" not in json.dumps(f.to_json())  # names, never values
    assert commands(f) == [f"kubectl set env deployment/web -n {NS} -c app AZURE_CLIENT_SECRET-"]


@covers("workload.env-shadowing", 23)
def test_client_secret_loaded_from_a_secret_is_removed_there() -> None:
    d, pods = deployment_and_pods("web", containers=[container(
        envFrom=[{"secretRef": {"name": "sp-credentials"}}])])
    keys = EnvSources({(NS, "Secret", "sp-credentials"): ["AZURE_CLIENT_SECRET", "DB_HOST"]})
    f = one(run("workload.env-shadowing", service_accounts=[service_account()],
                deployments=[d], pods=pods, env_source_keys=keys))
    assert f.status == Status.FAIL
    assert "AZURE_CLIENT_SECRET in container app (Secret sp-credentials (envFrom))" in f.summary
    patch, restart = commands(f)
    assert patch.startswith(f"kubectl patch secret sp-credentials -n {NS} ")
    assert json_patch(patch) == [{"op": "remove", "path": "/data/AZURE_CLIENT_SECRET"}]
    assert restart == RESTART_WEB


def test_prefixed_config_map_keys_count_with_their_prefix() -> None:
    bare = pod(containers=[container(envFrom=[{"prefix": "AZURE_", "configMapRef": {
        "name": "settings"}}])])
    keys = EnvSources({(NS, "ConfigMap", "settings"): ["CLIENT_CERTIFICATE_PATH", "REGION"]})
    f = one(run("workload.env-shadowing", service_accounts=[service_account()], pods=[bare],
                env_source_keys=keys))
    assert f.status == Status.FAIL
    assert "AZURE_CLIENT_CERTIFICATE_PATH in container app (ConfigMap settings" in f.summary
    assert commands(f)[-1] == RECREATE


@covers("workload.env-shadowing", 23)
def test_own_client_id_in_a_bare_pod_wins_over_the_webhooks() -> None:
    # the webhook never overwrites a variable the container sets itself
    bare = pod(containers=[container(env={"AZURE_CLIENT_ID": OTHER_CLIENT_ID,
                                          "LOG_LEVEL": "debug"})])
    f = one(run("workload.env-shadowing", service_accounts=[service_account()], pods=[bare],
                env_source_keys=EnvSources({})))
    assert f.status == Status.FAIL and "AZURE_CLIENT_ID in container app (env)" in f.summary
    assert f.evidence.expected == {"AZURE_CLIENT_ID": CLIENT_ID, "credential variables": []}
    (edit,) = commands(f)
    assert edit.startswith(f"kubectl get pod worker -n {NS} -o json | jq '")
    assert 'map(select(.name != "AZURE_CLIENT_ID"))' in edit
    assert edit.endswith("| kubectl replace --force -f -")


def test_unreadable_env_sources_are_not_guessed() -> None:
    bare = pod(containers=[container(envFrom=[{"secretRef": {"name": "locked"}}])])
    keys = EnvSources({(NS, "Secret", "locked"): "unreadable: forbidden"})
    f = one(run("workload.env-shadowing", service_accounts=[service_account()], pods=[bare],
                env_source_keys=keys))
    assert f.status == Status.OK


# -- workload.skip-containers ---------------------------------------------------------------------

@covers("workload.skip-containers")
def test_skip_containers_naming_no_container_of_the_pod() -> None:
    d = deployment("web", template_annotations={SKIP: "sidecar"})
    f = one(run("workload.skip-containers", service_accounts=[service_account()],
                deployments=[d]))
    assert f.status == Status.OK and "names no container of the pod" in f.summary


@covers("workload.skip-containers", 43)
def test_every_container_skipped_fails_with_the_annotation_removal() -> None:
    d = deployment("web", template_annotations={SKIP: "app"})
    f = one(run("workload.skip-containers", service_accounts=[service_account()],
                deployments=[d]))
    assert f.status == Status.FAIL and f"every container is listed in {SKIP} (app)" in f.summary
    assert f.evidence.actual == {"skipped": ["app"], "containers": ["app"]}
    (patch,) = commands(f)
    assert json_patch(patch) == [{"op": "remove", "path": "/spec/template/metadata/annotations/"
                                                          "azure.workload.identity~1skip-containers"}]


@covers("workload.skip-containers", 43)
def test_some_containers_skipped_warns() -> None:
    bare = pod(annotations={SKIP: "app; metrics"},
               containers=[container("app"), container("uploader")])
    f = one(run("workload.skip-containers", service_accounts=[service_account()], pods=[bare]))
    assert f.status == Status.WARN and "containers app are in" in f.summary
    assert commands(f) == [f"kubectl annotate pod worker -n {NS} {SKIP}-", RECREATE]


def test_skip_containers_skips_when_unused() -> None:
    f = one(run("workload.skip-containers", service_accounts=[service_account()], pods=[pod()]))
    assert f.status == Status.SKIP


# -- workload.token-path --------------------------------------------------------------------------

@covers("workload.token-path")
def test_token_path_read_from_the_variable() -> None:
    f = one(run("workload.token-path", service_accounts=[service_account()], pods=[pod()]))
    assert f.status == Status.OK and "container app: no stale token path" in f.summary


@covers("workload.token-path", 43)
def test_token_path_of_the_old_layout_hard_coded() -> None:
    old = "/var/run/secrets/azure/tokens/azure-identity-token"
    bare = pod(containers=[container(env={"TOKEN_PATH": old})])
    f = one(run("workload.token-path", service_accounts=[service_account()], pods=[bare]))
    assert f.status == Status.FAIL
    assert "hard-codes /var/run/secrets/azure/tokens" in f.summary
    assert "/var/run/secrets/azure/wi/token/azure-identity-token" in f.summary
    assert commands(f) == [f"kubectl get pod worker -n {NS} -o yaml | grep -n "
                           "'/var/run/secrets/azure/tokens'"]


def test_token_path_of_the_new_layout_in_args_of_an_old_webhooks_pod() -> None:
    bare = pod(layout="v1.5", containers=[container(args=[
        "--token-file=/var/run/secrets/azure/wi/token/azure-identity-token"])])
    f = one(run("workload.token-path", service_accounts=[service_account()], pods=[bare]))
    assert f.status == Status.FAIL and f.evidence.actual == ["/var/run/secrets/azure/wi"]


def test_token_path_reports_nothing_without_injected_pods() -> None:
    assert run("workload.token-path", service_accounts=[service_account()],
               pods=[pod(mutated=False)]) == []
