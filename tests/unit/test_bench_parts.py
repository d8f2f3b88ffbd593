"""The pure parts of bench/bind_vs_az.py (no az, no lab): the flows' wiring, the end-state
check, the cloud registration arguments, the table. The benchmark itself is run by hand."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Iterator

import pytest
import yaml

from wi_cli.lab.arm.metadata import cloud_metadata

BENCH = Path(__file__).resolve().parents[2] / "bench"
ISSUER = "https://oidc.example/tenant/cluster/"
CLIENT_ID = "7e3efec1-eb00-42df-b8ee-2ae26521297e"
SUBJECT = "system:serviceaccount:demo:app"


@pytest.fixture(scope="module")
def b() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("bind_vs_az")
    finally:
        sys.path.remove(str(BENCH))
        for name in ("bind_vs_az", "_az"):
            sys.modules.pop(name, None)


def credential(issuer: str = ISSUER, subject: str = SUBJECT,
               audiences: list[str] | None = None) -> dict:
    return {"issuer": issuer, "subject": subject,
            "audiences": ["api://AzureADTokenExchange"] if audiences is None else audiences}


def account(client_id: str | None = CLIENT_ID) -> dict:
    annotations = {} if client_id is None else {"azure.workload.identity/client-id": client_id}
    return {"metadata": {"name": "app", "namespace": "demo", "annotations": annotations}}


def test_the_bind_flow_feeds_each_command_what_the_earlier_ones_printed(b: ModuleType) -> None:
    values = {"rg": "rg", "cluster": "aks", "identity": "id", "ns": "demo", "sa": "app",
              "fic": "app-fic"}
    outputs = {"az aks show": ISSUER + "\n", "az identity show": CLIENT_ID + "\n"}
    argvs = []
    for step in b.BIND_FLOW:
        argvs.append(b.fill(step, values))
        values.update(b.kept(step, outputs.get(step.label, "")))
    create, annotate = argvs[2], argvs[4]
    assert create[:4] == ["az", "identity", "federated-credential", "create"]
    assert create[create.index("--issuer") + 1] == ISSUER
    assert create[create.index("--subject") + 1] == SUBJECT
    assert create[create.index("--audiences") + 1] == "api://AzureADTokenExchange"
    assert argvs[3] == ["kubectl", "create", "serviceaccount", "app", "-n", "demo"]
    assert annotate[-1] == f"azure.workload.identity/client-id={CLIENT_ID}"
    assert [a[0] for a in argvs] == ["az", "az", "az", "kubectl", "kubectl"]


def test_steps_refuse_what_they_were_not_given(b: ModuleType) -> None:
    with pytest.raises(b.BenchError, match="needs 'issuer'"):
        b.fill(b.BIND_FLOW[2], {"rg": "rg", "identity": "id", "ns": "demo", "sa": "app",
                                "fic": "f"})
    check_identity = b.CHECK_FLOW[1]
    assert b.kept(check_identity, f"{CLIENT_ID}\npid\n") == {"client_id": CLIENT_ID,
                                                             "principal_id": "pid"}
    with pytest.raises(b.BenchError, match="printed 1 value"):
        b.kept(check_identity, CLIENT_ID)
    listing = b.CHECK_FLOW[2]
    assert b.kept(listing, "[\n  {}\n]\n") == {"credentials": "[\n  {}\n]\n"}  # kept whole


def test_end_state_bound(b: ModuleType) -> None:
    others = [credential(subject="system:serviceaccount:demo:other")]
    assert b.end_state_problems(others + [credential()], account(), issuer=ISSUER,
                                subject=SUBJECT, client_id=CLIENT_ID) == []


@pytest.mark.parametrize("credentials,sa,expected", [
    ([], account(), "no federated credential"),
    ([credential(issuer=ISSUER.rstrip("/"))], account(), "no federated credential"),
    ([credential(subject=SUBJECT.upper())], account(), "no federated credential"),
    ([credential(audiences=["api://other"])], account(), "does not have audience"),
    ([credential()], None, "service account for system:serviceaccount:demo:app missing"),
    ([credential()], account(None), "client-id is None"),
    ([credential()], account("another"), "client-id is 'another'"),
])
def test_end_state_problems(b: ModuleType, credentials: list, sa: dict | None,
                            expected: str) -> None:
    problems = b.end_state_problems(credentials, sa, issuer=ISSUER, subject=SUBJECT,
                                    client_id=CLIENT_ID)
    assert len(problems) == 1 and expected in problems[0]


def test_end_state_reads_what_az_and_kubectl_print(b: ModuleType) -> None:
    listing = json.dumps([{"name": "app-fic", "resourceGroup": "rg", **credential(),
                           "type": "Microsoft.ManagedIdentity/userAssignedIdentities/"
                                   "federatedIdentityCredentials"}], indent=2)
    sa_yaml = ("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  annotations:\n"
               f"    azure.workload.identity/client-id: {CLIENT_ID}\n  name: app\n"
               "  namespace: demo\n")
    assert b.end_state_problems(json.loads(listing), yaml.safe_load(sa_yaml), issuer=ISSUER,
                                subject=SUBJECT, client_id=CLIENT_ID) == []


def test_cloud_registration_from_the_lab_metadata_document(b: ModuleType) -> None:
    lab = SimpleNamespace(arm_endpoint="https://127.0.0.1:4000/",
                          arm_audience="https://127.0.0.1:4000/",
                          authority_host="https://127.0.0.1:5000/")
    args = b.cloud_register_args(cloud_metadata(lab))
    options = dict(zip(args[4::2], args[5::2]))
    assert args[:4] == ["cloud", "register", "--name", "WiLab"]
    assert options["--endpoint-resource-manager"] == "https://127.0.0.1:4000/"
    assert options["--endpoint-active-directory"] == "https://127.0.0.1:5000/"
    assert options["--endpoint-active-directory-resource-id"] == "https://127.0.0.1:4000/"
    assert options["--endpoint-active-directory-graph-resource-id"].startswith("https://")
    with pytest.raises(b.BenchError, match="--endpoint-active-directory$"):
        b.cloud_register_args({"resourceManager": "https://arm/", "authentication": {}})


def test_table(b: ModuleType) -> None:
    rows = [b.Row("az aks show", 0.8412, 0.41, 1), b.Row("the 5 commands", 2.2, 1.5, 8),
            b.Row("wi bind SA IDENTITY -n NS --create", 1.1, 0.7, 15, 0.5,
                  b.verdict(0.504, 0.5))]
    lines = b.format_table("bind", rows).splitlines()
    assert lines[0].split() == ["bind", "median", "cpu", "requests", "ratio"]
    assert lines[1].split() == ["az", "aks", "show", "0.84", "s", "0.41", "s", "1"]
    assert lines[3].endswith("1.10 s  0.70 s        15   0.50  target <= 0.50: met")
    assert len({line.index(" s ") for line in lines[1:]}) == 1  # the medians line up
    assert b.verdict(0.506, 0.5) == "target <= 0.50: NOT met"


def test_request_kinds_and_redaction(b: ModuleType) -> None:
    from collections import Counter

    assert b.kind_of("arm", "/metadata/endpoints?api-version=2022-09-01") == "metadata"
    assert b.kind_of("arm", "/subscriptions/x") == "arm"
    assert b.kind_of("kube-wi-lab-aks", "/api/v1/namespaces") == "kube"
    assert b.by_kind([Counter(arm=3, kube=2), Counter(arm=5, kube=2)]) == "arm 4, kube 2"
    assert b.redact("az: bad password s3cr3t.", "s3cr3t") == "az: bad password ***."


def test_timed_programs_start_from_a_clean_environment(b: ModuleType) -> None:
    import _az

    outer = {"PATH": "/bin", "PYTHONDONTWRITEBYTECODE": "1", "AZURE_CLIENT_SECRET": "x",
             "KUBECONFIG": "/k", "WI_CLOUD": "AzureCloud", "REQUESTS_CA_BUNDLE": "/ca"}
    env = _az.base_env(outer, isolate=True)
    assert env["PATH"] == "/bin" and env["AZURE_CORE_COLLECT_TELEMETRY"] == "no"
    assert not {"PYTHONDONTWRITEBYTECODE", "AZURE_CLIENT_SECRET", "KUBECONFIG", "WI_CLOUD",
                "REQUESTS_CA_BUNDLE"} & set(env)
    assert _az.base_env(outer)["KUBECONFIG"] == "/k"  # startup.py keeps the shell's
