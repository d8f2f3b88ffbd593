"""`wi bind` never trusts the in-cluster issuer (AKS with the OIDC issuer off puts
https://kubernetes.default.svc.cluster.local in its tokens: failure mode 13), while `wi unbind`
can still remove a credential someone made for it."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.core.models import in_cluster_issuer
from wi_cli.lab.kube import scenarios

NS = scenarios.NAMESPACE
INTERNAL = "https://kubernetes.default.svc.cluster.local"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with seeded_lab("bound", tmp_path_factory.mktemp("bind-issuer")) as world:
        yield world


@pytest.fixture(autouse=True)
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


def subjects(world: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f.issuer, f.subject) for f in world["seeded"].identity.fics.values()}


@pytest.mark.parametrize("issuer, internal", [
    (INTERNAL, True), ("https://kubernetes.default.svc", True), ("https://kubernetes.default", True),
    ("https://api.demo.svc:443/", True),
    ("https://eastus.oic.prod-aks.azure.com/tenant/guid/", False),
    ("https://token.actions.githubusercontent.com", False), ("https://127.0.0.1:8443/t/c/", False),
])
def test_the_rule(issuer: str, internal: bool) -> None:
    assert in_cluster_issuer(issuer) is internal


def test_bind_refuses_the_in_cluster_issuer_and_changes_nothing(world, wi) -> None:
    before = subjects(world)
    run = wi("bind", scenarios.SERVICE_ACCOUNT, scenarios.IDENTITY_NAME, "-n", NS,
             "--issuer", INTERNAL, "-o", "json")
    assert run.code == 5, run.out
    (error,) = run.json["errors"]
    assert f"The issuer {INTERNAL} (--issuer) is the in-cluster one" in error["message"]
    assert "--enable-oidc-issuer" in error["remediation"][0]
    assert subjects(world) == before


def test_unbind_still_removes_a_credential_made_for_it(world, wi) -> None:
    seeded = world["seeded"]
    subject = f"system:serviceaccount:{NS}:{scenarios.SERVICE_ACCOUNT}"
    world["lab"].azure.add_fic(seeded.identity, "made-by-hand", INTERNAL, subject)
    run = wi("unbind", scenarios.SERVICE_ACCOUNT, scenarios.IDENTITY_NAME, "-n", NS,
             "--issuer", INTERNAL, "-y", "-o", "json")
    assert run.code == 0, run.json["errors"]
    assert (INTERNAL, subject) not in subjects(world)
    assert (seeded.issuer_url, subject) in subjects(world)  # the real trust stays
