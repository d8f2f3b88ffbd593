"""The reliability suite's worlds: a lab seeded with a bound service account, aad-pod-identity's
CRDs, and one fresh subject per case (a service account, a namespace, a state directory), so
cases share a lab but never each other's state."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from faultkit import TIMEOUTS
from support import LAB_TF_MODULE, lab_tf_vars, operator_env, seeded_lab, set_env
from wi_cli.lab.kube import scenarios

REPO = Path(__file__).resolve().parents[2]
POD_IDENTITY_CRDS = REPO.parent / "shared" / "fixtures" / "aad-pod-identity" / "crd.yaml"
GROUP = "aadpodidentity.k8s.io/v1"
NS = scenarios.NAMESPACE
_tags = itertools.count(1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("reliability")) as world:
        store = world["store"]
        if POD_IDENTITY_CRDS.exists():
            for doc in yaml.safe_load_all(POD_IDENTITY_CRDS.read_text()):
                store.create("customresourcedefinitions", None, doc)
        yield world


@pytest.fixture()
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A user of the lab (`source env.sh`) whose wi waits 1 s for each connection and answer."""
    return set_env(monkeypatch, {**operator_env(world["lab"], world["seeded"],
                                                world["kubeconfig"]), **TIMEOUTS})


def tag() -> str:
    return f"r{next(_tags)}-{os.getpid() % 10000}"


def server_of(world: dict[str, Any], service: str) -> Any:
    return world["seeded"].cluster.server if service == "kube" else world["lab"].server(service)


def fresh_identity(world: dict[str, Any], name: str) -> str:
    """An identity of its own per case (an identity holds at most 20 credentials)."""
    seeded = world["seeded"]
    world["lab"].azure.add_identity(seeded.subscription_id, seeded.resource_group, f"id-{name}")
    return f"id-{name}"


def make_service_account(world: dict[str, Any], name: str, ns: str = NS) -> None:
    world["store"].create("serviceaccounts", ns, {"metadata": {"name": name}})


def pod_identity_namespace(world: dict[str, Any], ns: str, identity: str) -> None:
    """A namespace as aad-pod-identity users have it: an AzureIdentity for ``identity``, a
    binding with a selector of its own, and a Deployment whose pods carry it."""
    store, seeded = world["store"], world["seeded"]
    ident = world["lab"].azure.identity(seeded.subscription_id, seeded.resource_group, identity)
    selector = f"sel-{ns}"
    store.create("namespaces", None, {"metadata": {"name": ns}})
    store.create("azureidentities", ns, {"apiVersion": GROUP, "kind": "AzureIdentity",
                                         "metadata": {"name": "id"},
                                         "spec": {"type": 0, "resourceID": ident.id,
                                                  "clientID": ident.client_id}})
    store.create("azureidentitybindings", ns, {"apiVersion": GROUP,
                                               "kind": "AzureIdentityBinding",
                                               "metadata": {"name": "binding"},
                                               "spec": {"azureIdentity": "id",
                                                        "selector": selector}})
    store.create("serviceaccounts", ns, {"metadata": {"name": "web"}})
    store.create("deployments", ns, {"metadata": {"name": "web"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web", "aadpodidbinding": selector}},
                     "spec": {"serviceAccountName": "web", "containers": [{
                         "name": "app", "image": "python:3.12-slim",
                         "command": ["python3", "-c", "import time; time.sleep(600)"]}]}}}})


def drop_namespace(world: dict[str, Any], ns: str) -> None:
    try:
        world["store"].delete("namespaces", None, ns)
    except Exception:  # noqa: BLE001 - already gone
        pass


def provision_argv(world: dict[str, Any]) -> list[str]:
    return ["provision", "--module", str(LAB_TF_MODULE), "-y", *lab_tf_vars(world["seeded"])]


@pytest.fixture()
def prepare(world: dict[str, Any], env: dict[str, str], wi: Callable[..., Any],
            isolated_env: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Callable[[str], list[str]]]:
    """``prepare(command)``: a fresh subject for ``command`` in the lab, and its argv."""
    cleanups: list[Callable[[], None]] = []

    def make(command: str) -> list[str]:
        name = tag()
        identity = fresh_identity(world, name)
        if command == "bind":
            make_service_account(world, name)
            return ["bind", name, identity, "-n", NS]
        if command == "unbind":
            make_service_account(world, name)
            done = wi("bind", name, identity, "-n", NS)
            assert done.code == 0, done.err
            return ["unbind", name, identity, "-n", NS]
        if command == "doctor":
            return ["doctor", "-n", NS, "--service-account", scenarios.SERVICE_ACCOUNT]
        if command == "probe":
            return ["probe", "-n", NS, "--service-account", scenarios.SERVICE_ACCOUNT,
                    "--timeout", "60"]
        if command == "provision":
            if shutil.which("terraform") is None:
                pytest.skip("terraform binary not on PATH")
            rc = isolated_env / "terraformrc"
            rc.write_text("")
            monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
            monkeypatch.setenv("KUBECONFIG", str(isolated_env / ".kube" / "config"))
            monkeypatch.delenv("TF_CLI_ARGS", raising=False)
            return provision_argv(world)
        if command == "migrate":
            if not POD_IDENTITY_CRDS.exists():
                pytest.skip(f"aad-pod-identity CRDs not found at {POD_IDENTITY_CRDS}")
            pod_identity_namespace(world, name, identity)
            cleanups.append(lambda: drop_namespace(world, name))
            return ["migrate", "-n", name, "--apply", "-y", "--wait", "5", "--timeout", "60"]
        raise AssertionError(command)

    yield make
    for cleanup in cleanups:
        cleanup()
