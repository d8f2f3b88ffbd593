"""The domain rules of core/models.py on plain values (DESIGN §5): each written once, tested here."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from wi_cli.core.models import (
    FederatedCredential,
    PermissionBlock,
    Pod,
    from_json,
    ResourceId,
    ServiceAccountRef,
    credential_matches,
    credential_name,
    is_scope,
    permits,
    restart_reason,
    same_trust,
    trust_for,
)

ARM_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$")
ISSUER = "https://oidc.example/tenant/guid/"
dns_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
subdomain = st.lists(dns_label, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 253)


def test_resource_id_parses_once_and_compares_without_case() -> None:
    rid = ResourceId.parse("/subscriptions/S1/resourceGroups/RG/providers/"
                           "Microsoft.ManagedIdentity/userAssignedIdentities/id1")
    assert (rid.subscription, rid.resource_group, rid.provider, rid.type, rid.name) == \
        ("S1", "RG", "Microsoft.ManagedIdentity", "userAssignedIdentities", "id1")
    other = ResourceId.parse(str(rid).upper())
    assert other.key == rid.key
    child = ResourceId.parse(f"{rid}/federatedIdentityCredentials/fic1")
    assert child.name == "id1" and child.child == "/federatedIdentityCredentials/fic1"
    assert ResourceId.try_parse("/subscriptions/S1") is None
    with pytest.raises(ValueError):
        ResourceId.parse("not-an-id")


@pytest.mark.parametrize("scope, ok", [
    ("/subscriptions/S1", True),
    ("/subscriptions/S1/", True),
    ("/subscriptions/S1/resourceGroups/RG", True),
    ("/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/st", True),
    ("/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/st/"
     "blobServices/default/containers/c", True),
    ("/providers/Microsoft.Management/managementGroups/mg", True),
    ("notascope", False),
    ("subscriptions/S1", False),
    ("/subscriptions/S1/resourceGroups", False),
    ("/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Storage", False),
    ("/subscriptions/0/resourceGroups/{", False),  # the SDK's URL template chokes on braces
    ("/subscriptions/S1/resourceGroups/R\nG", False),
    ("/subscriptions/S1/resourceGroups/RG?x=1", False),
])
def test_scopes(scope: str, ok: bool) -> None:
    assert is_scope(scope) is ok


def test_subject_of_a_service_account_and_back() -> None:
    ref = ServiceAccountRef("demo", "app")
    assert ref.subject == "system:serviceaccount:demo:app"
    assert ServiceAccountRef.from_subject(ref.subject) == ref
    assert ServiceAccountRef.from_subject("repo:org/x:ref:refs/heads/main") is None


def test_a_credential_means_issuer_and_subject_and_matches_with_its_audience() -> None:
    c = FederatedCredential("any-name", ISSUER, "system:serviceaccount:a:b")
    assert same_trust(c, ISSUER, "system:serviceaccount:a:b")
    assert not same_trust(c, ISSUER.rstrip("/"), "system:serviceaccount:a:b")  # slash counts
    assert not same_trust(c, ISSUER, "system:serviceaccount:A:b")  # case counts
    assert credential_matches(c, ISSUER, "system:serviceaccount:a:b", "api://AzureADTokenExchange")
    assert not credential_matches(c, ISSUER, "system:serviceaccount:a:b", "api://other")
    other = FederatedCredential("x", "https://other/", c.subject)
    assert trust_for([other, c], ISSUER, c.subject) is c
    assert trust_for([other], ISSUER, c.subject) is None


def test_colliding_default_names_get_the_hash_suffix() -> None:
    first = credential_name(ServiceAccountRef("a-b", "c"), ISSUER, [])
    assert first == "a-b-c"
    second = credential_name(ServiceAccountRef("a", "b-c"), ISSUER, ["A-B-C"])  # case-blind
    assert re.fullmatch(r"a-b-c-[0-9a-f]{8}", second)
    third = credential_name(ServiceAccountRef("a", "b-c"), ISSUER, ["a-b-c", second])
    assert third == f"{second}-2"


@settings(max_examples=200, deadline=None)
@given(ns=dns_label, sa=subdomain, taken=st.lists(st.text(min_size=1, max_size=130), max_size=5))
def test_a_new_name_is_always_valid_free_and_stable(ns: str, sa: str, taken: list[str]) -> None:
    ref = ServiceAccountRef(ns, sa)
    name = credential_name(ref, ISSUER, taken)
    assert ARM_NAME.match(name), name
    assert name.lower() not in {t.lower() for t in taken}
    assert name == credential_name(ref, ISSUER, taken)


def test_permissions_blocks_add_up_and_not_actions_only_narrow_their_own_block() -> None:
    contributor = PermissionBlock(("*",), ("Microsoft.Authorization/*/Write",
                                           "Microsoft.Authorization/*/Delete"))
    write = "Microsoft.Authorization/roleAssignments/write"
    assert not permits([contributor], write)
    assert permits([contributor, PermissionBlock(("Microsoft.Authorization/roleAssignments/*",))],
                   write)
    assert permits([PermissionBlock(("microsoft.managedidentity/*",))],
                   "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write")
    assert not permits([PermissionBlock(("*/read",))], write)
    assert not permits([], write)
    assert PermissionBlock.from_json({"actions": ["*"], "notActions": None}) == PermissionBlock(("*",))


def test_restart_reasons() -> None:
    def pod(labels: dict, env: list, phase: str = "Running") -> Pod:
        return from_json(Pod, {"metadata": {"name": "p", "namespace": "demo", "labels": labels},
                               "spec": {"containers": [{"name": "c", "env": env}]},
                               "status": {"phase": phase}})

    use = {"azure.workload.identity/use": "true"}
    cid = [{"name": "AZURE_CLIENT_ID", "value": "CID"}]
    assert restart_reason(pod(use, cid), "cid", annotation_changed=False) is None  # case-blind
    assert "annotated" in restart_reason(pod(use, cid), "cid", annotation_changed=True)
    assert "stale" in restart_reason(pod(use, cid), "other", annotation_changed=False)
    assert "label" in restart_reason(pod({}, []), "cid", annotation_changed=False)
    assert "no AZURE_CLIENT_ID" in restart_reason(pod(use, []), "cid", annotation_changed=False)
    assert restart_reason(pod(use, [], "Succeeded"), "cid", annotation_changed=True) is None


def test_kubernetes_objects_read_from_json_with_the_clients_field_names() -> None:
    p = from_json(Pod, {
        "metadata": {"name": "p", "ownerReferences": [{"kind": "ReplicaSet", "name": "rs",
                                                       "controller": True}]},
        "spec": {"serviceAccountName": "app", "volumes": [{"name": "azure-identity-token",
                 "projected": {"sources": [{"serviceAccountToken": {
                     "audience": "api://AzureADTokenExchange", "expirationSeconds": 3600,
                     "path": "azure-identity-token"}}]}}],
                 "containers": [{"name": "c", "env": [{"name": "A", "value": "1"},
                                                      {"name": "A", "value": "2"}]}]}})
    assert p.metadata.controller.name == "rs" and p.spec.service_account == "app"
    token = p.spec.volumes[0].projected.sources[0].service_account_token
    assert (token.audience, token.expiration_seconds) == ("api://AzureADTokenExchange", 3600)
    assert p.spec.containers[0].env_var("A").value == "2"  # the last duplicate wins
    assert from_json(Pod, {}).spec.service_account == "default"
