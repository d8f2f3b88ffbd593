"""Property: over any sequence of bind / unbind / bind --replace on namespaces and service
accounts whose default credential names collide, two clusters (two issuers) and two identities,
every (issuer, subject) trusted is trusted by exactly the identities the sequence says, no other
credential changes, and the annotations match. Drives the core functions in-process against the
lab with the real SDKs (issue 11)."""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from support import operator_env, seeded_lab, set_env
from wi_cli.cli.wiring import bind_ports
from wi_cli.core.bind import BindRequest, bind
from wi_cli.core.trust import Target
from wi_cli.core.unbind import UnbindRequest, unbind
from wi_cli.core.config import Environment, Settings
from wi_cli.core.plan import Consent
from wi_cli.lab.kube import scenarios
from wi_cli.lab.kube.aks import add_aks_cluster

NAMESPACES = ("a", "a-b")
ACCOUNTS = ("b-c", "c")  # a/b-c and a-b/c both default to the name "a-b-c"
IDENTITIES = (scenarios.IDENTITY_NAME, "wi-lab-identity-2")
CLUSTERS = (0, 1)
CLIENT_ID = "azure.workload.identity/client-id"
EXAMPLES = int(os.environ.get("WI_PROPERTY_EXAMPLES", "20"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("bind-properties")
    with seeded_lab("healthy", folder) as world:
        lab, seeded = world["lab"], world["seeded"]
        second = add_aks_cluster(lab, seeded.subscription_id, seeded.resource_group,
                                 "wi-lab-aks-2")
        clusters = [seeded.cluster, second]
        kubeconfigs = [world["kubeconfig"], str(second.write_kubeconfig(folder / "k2"))]
        for cluster in clusters:
            for ns in NAMESPACES:
                cluster.store.create("namespaces", None, {"metadata": {"name": ns}})
                for sa in ACCOUNTS:
                    cluster.store.create("serviceaccounts", ns, {"metadata": {"name": sa}})
        lab.azure.add_identity(seeded.subscription_id, seeded.resource_group, IDENTITIES[1])
        # a credential outside the sequence's universe, sharing the default name scheme
        lab.azure.add_fic(seeded.identity, "a-b-c-x", seeded.issuer_url or "",
                          "system:serviceaccount:other:sa")
        world.update(clusters=clusters, kubeconfigs=kubeconfigs,
                     issuers=[c.aks.record.issuer_url for c in clusters])
        yield world


@pytest.fixture()
def ports(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """One set of adapters per cluster, in-process, as `wi bind --kubeconfig K` builds them."""
    set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))
    return [bind_ports(Settings(cloud=world["lab"].metadata_url,
                                subscription=world["seeded"].subscription_id, kubeconfig=k,
                                environment=Environment.current()))
            for k in world["kubeconfigs"]]


def subject(ns: str, sa: str) -> str:
    return f"system:serviceaccount:{ns}:{sa}"


UNIVERSE = {subject(ns, sa) for ns in NAMESPACES for sa in ACCOUNTS}


def lab_trusts(world: dict[str, Any]) -> tuple[set, dict]:
    """(identity name, issuer, subject) of the sequence's universe; everything else by key."""
    inside, outside = set(), {}
    for ident in world["lab"].azure.identities.values():
        for f in ident.fics.values():
            if f.subject in UNIVERSE:
                inside.add((ident.name, f.issuer, f.subject))
            else:
                outside[(ident.id, f.name)] = (f.issuer, f.subject, tuple(f.audiences))
    return inside, outside


def lab_annotations(world: dict[str, Any]) -> dict:
    out = {}
    for c, cluster in enumerate(world["clusters"]):
        for ns in NAMESPACES:
            for sa in ACCOUNTS:
                meta = cluster.store.get("serviceaccounts", ns, sa)["metadata"]
                out[(c, ns, sa)] = (meta.get("annotations") or {}).get(CLIENT_ID)
    return out


def reset(world: dict[str, Any]) -> None:
    for ident in world["lab"].azure.identities.values():
        for key in [k for k, f in ident.fics.items() if f.subject in UNIVERSE]:
            del ident.fics[key]
    for cluster in world["clusters"]:
        for ns in NAMESPACES:
            for sa in ACCOUNTS:
                cluster.store.patch("serviceaccounts", ns, sa, {"metadata": {"annotations": {
                    CLIENT_ID: None, "azure.workload.identity/tenant-id": None}}},
                    "application/merge-patch+json")


operation = st.tuples(st.sampled_from(("bind", "unbind", "replace")), st.sampled_from(NAMESPACES),
                      st.sampled_from(ACCOUNTS), st.sampled_from(IDENTITIES),
                      st.sampled_from(CLUSTERS))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=st.lists(operation, min_size=1, max_size=8))
def test_every_step_touches_only_the_named_trust(world, ports, sequence) -> None:
    reset(world)
    client_ids = {i.name: i.client_id for i in world["lab"].azure.identities.values()}
    by_client_id = {v: k for k, v in client_ids.items()}
    expected: set = set()
    annotated: dict = {key: None for key in lab_annotations(world)}
    _, outside = lab_trusts(world)
    yes = Consent(assume_yes=True)
    for op, ns, sa, ident, c in sequence:
        issuer, sub = world["issuers"][c], subject(ns, sa)
        if op == "unbind":
            unbind(UnbindRequest(sa, ident, ns), ports[c], Target(), yes)
            expected.discard((ident, issuer, sub))
            if annotated[(c, ns, sa)] == client_ids[ident]:
                annotated[(c, ns, sa)] = None
        else:
            previous = by_client_id.get(annotated[(c, ns, sa)] or "")
            bind(BindRequest(sa, ident, ns, replace=op == "replace"), ports[c], Target(), yes)
            expected.add((ident, issuer, sub))
            if op == "replace" and previous and previous != ident:
                expected.discard((previous, issuer, sub))
            annotated[(c, ns, sa)] = client_ids[ident]
        inside, now_outside = lab_trusts(world)
        assert inside == expected, (op, ns, sa, ident, c)
        assert now_outside == outside
        assert lab_annotations(world) == annotated
