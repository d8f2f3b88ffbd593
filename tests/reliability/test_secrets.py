"""No secret leaves: every command and scenario, as JSON and as tables with --debug (also on
an error path), scanned for JWTs, client secrets, the lab's private keys (PEM) and kubeconfig
credentials (tokens, client keys) in stdout, stderr, the JSON and every file wi writes (the
state file, --write-manifests, `wi provision`'s inputs). The kubeconfig credential may be in
one place only: the kubeconfig file wi merges into."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from conftest import (
    NS,
    POD_IDENTITY_CRDS,
    fresh_identity,
    make_service_account,
    pod_identity_namespace,
    provision_argv,
    server_of,
    tag,
)
from support import Run
from faultkit import FAULTS, IDENTITIES, arm_fault, files_under, leaks, secrets_of
from wi_cli.lab.kube import scenarios

OTHER_TOKEN = "other-user-token-0f6e2a9c41d87b35"  # a second kubeconfig user's credentials
OTHER_KEY = ("-----BEGIN EC PRIVATE KEY-----\n"
             "MHcCAQEEIBogus0nly4tests0f1eaks0K3y0000000000000000000oAoGCCqGSM49\n"
             "-----END EC PRIVATE KEY-----\n")


@pytest.fixture(scope="module")
def kubeconfig_with_more(world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
                         ) -> str:
    """The lab's kubeconfig plus another user (a token and a client key) that wi must not show."""
    import base64

    doc = yaml.safe_load(Path(world["kubeconfig"]).read_text())
    doc["users"].append({"name": "other", "user": {
        "token": OTHER_TOKEN,
        "client-key-data": base64.b64encode(OTHER_KEY.encode()).decode()}})
    doc["contexts"].append({"name": "other", "context": {"cluster": doc["clusters"][0]["name"],
                                                         "user": "other"}})
    path = tmp_path_factory.mktemp("secrets") / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return str(path)


@pytest.fixture()
def secrets(world: dict[str, Any]) -> dict[str, str]:
    return {**secrets_of(world["lab"], world["seeded"]), "another user's token": OTHER_TOKEN,
            "another user's client key": OTHER_KEY.splitlines()[1]}


def scenario_argv(name: str, world: dict[str, Any], tmp: Path, wi: Callable[..., Run]
                  ) -> list[str]:
    subject = tag()
    if name in ("bind", "unbind", "bind-refused"):
        identity = fresh_identity(world, subject)
        make_service_account(world, subject)
        if name == "unbind":
            assert wi("bind", subject, identity, "-n", NS).code == 0
            return ["unbind", subject, identity, "-n", NS]
        return ["bind", subject, identity, "-n", NS]
    if name == "doctor":
        return ["doctor", "-n", NS]
    if name == "doctor-all":
        return ["doctor", "-A", "--problems"]
    if name == "probe":
        return ["probe", "-n", NS, "--service-account", scenarios.SERVICE_ACCOUNT]
    if name.startswith("migrate"):
        pod_identity_namespace(world, subject, fresh_identity(world, subject))
        if name == "migrate-manifests":
            return ["migrate", "-n", subject, "--write-manifests", str(tmp / "manifests")]
        return ["migrate", "-n", subject, "--apply", "-y", "--wait", "5", "--timeout", "60"]
    raise AssertionError(name)


SCENARIOS = ["bind", "unbind", "doctor", "doctor-all", "probe", "migrate-manifests",
             "migrate-apply", "bind-refused"]


@pytest.mark.parametrize("mode", ["json", "debug"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_no_secret_in_any_output_or_file(world, env, wi, secrets, kubeconfig_with_more,
                                         isolated_env: Path, tmp_path: Path, monkeypatch,
                                         name: str, mode: str) -> None:
    monkeypatch.setenv("KUBECONFIG", kubeconfig_with_more)
    if name.startswith("migrate") and not POD_IDENTITY_CRDS.exists():
        pytest.skip(f"aad-pod-identity CRDs not found at {POD_IDENTITY_CRDS}")
    argv = scenario_argv(name, world, tmp_path, wi)
    argv += ["-o", "json"] if mode == "json" else ["--debug"]
    stop = None
    if name == "bind-refused":  # the error path: the operator's token expired mid-run
        server = server_of(world, "arm")
        arm_fault(server, IDENTITIES, FAULTS["401"])
        stop = server.faults.clear
    try:
        run = wi(*argv, traceback_asked=stop is not None and mode == "debug")
    finally:
        if stop:
            stop()
    code, out, err = run.code, run.out, run.err
    assert code == (3 if name == "bind-refused" else 0), (out, err)
    if mode == "json":
        json.loads(out)
    found = {"stdout": leaks(out, secrets), "stderr": leaks(err, secrets)}
    for path, text in files_under(isolated_env).items():
        found[path] = leaks(text, secrets)
    for path, text in files_under(tmp_path).items():
        found[path] = leaks(text, secrets)
    assert not any(found.values()), {k: v for k, v in found.items() if v}


@pytest.fixture()
def provision_env(world, env, isolated_env: Path, monkeypatch, kubeconfig_with_more
                  ) -> Iterator[Path]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform binary not on PATH")
    rc = isolated_env / "terraformrc"
    rc.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    monkeypatch.delenv("TF_CLI_ARGS", raising=False)
    kubeconfig = isolated_env / ".kube" / "config"
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(kubeconfig_with_more, kubeconfig)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    yield kubeconfig


@pytest.mark.parametrize("mode", ["json", "debug"])
def test_provision_keeps_the_kubeconfig_credential_in_the_kubeconfig_only(
        world, provision_env: Path, wi, secrets, isolated_env: Path, mode: str) -> None:
    argv = provision_argv(world) + (["-o", "json"] if mode == "json" else ["--debug"])
    run = wi(*argv)
    code, out, err = run.code, run.out, run.err
    assert code == 0, (out, err)
    merged = provision_env.read_text()
    assert world["seeded"].cluster.admin_token in merged  # the merge did bring it
    found = {"stdout": leaks(out, secrets), "stderr": leaks(err, secrets)}
    for path, text in files_under(Path(isolated_env) / "wi-state").items():
        if "/.terraform/" in path or Path(path).name.startswith("terraform.tfstate"):
            continue  # Terraform's own files, not wi's
        found[path] = leaks(text, secrets)
    kube_creds = {"cluster admin token", "another user's token", "another user's client key"}
    found[str(provision_env)] = [x for x in leaks(merged, secrets) if x not in kube_creds]
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_demo_prints_no_secret(env, wi, isolated_env: Path) -> None:
    """`wi demo` runs its own lab, with secrets of its own: no JWT or private key leaves."""
    run = wi("demo", "-o", "json")
    code, out, err = run.code, run.out, run.err
    assert code == 0, err
    json.loads(out)
    assert not leaks(out + err, {}), leaks(out + err, {})
    for path, text in files_under(isolated_env).items():
        assert not leaks(text, {}), path


def test_the_scanner_finds_what_it_looks_for(world, secrets) -> None:
    """A test that cannot fail is a defect: each kind of secret is found when present."""
    import jwt

    token = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")
    for planted in [token, world["seeded"].operator.secret, world["seeded"].cluster.admin_token,
                    OTHER_TOKEN, OTHER_KEY, "-----BEGIN PRIVATE KEY-----\nAAAA"]:
        assert leaks(f"before {planted} after", secrets), planted[:12]
    assert leaks("nothing to see here", secrets) == []

