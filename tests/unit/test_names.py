import pytest

from wi_cli.core.errors import UsageError
from wi_cli.core.names import (
    check_namespace,
    check_service_account,
    parse_identity,
)

@pytest.mark.parametrize("ns", ["default", "a", "team-1", "x" * 63])
def test_valid_namespaces(ns: str) -> None:
    assert check_namespace(ns) == ns


@pytest.mark.parametrize("ns", ["", "Team", "-a", "a-", "a.b", "x" * 64, "a_b"])
def test_invalid_namespaces(ns: str) -> None:
    with pytest.raises(UsageError):
        check_namespace(ns)


@pytest.mark.parametrize("sa", ["app", "my.app", "a-b.c-d", ("a" * 63 + ".") * 3 + "a" * 61])
def test_valid_service_accounts(sa: str) -> None:
    assert check_service_account(sa) == sa


@pytest.mark.parametrize("sa", ["App", "a..b", ".a", "a_b", "a" * 254, "a" * 64])
def test_invalid_service_accounts(sa: str) -> None:
    with pytest.raises(UsageError):
        check_service_account(sa)


def test_identity_reference_forms() -> None:
    rid = ("/subscriptions/0000/resourceGroups/RG/providers/Microsoft.ManagedIdentity/"
           "userAssignedIdentities/id1")
    ref = parse_identity(rid)
    assert (ref.kind, ref.resource_group, ref.name) == ("id", "RG", "id1")
    assert parse_identity("6E2F1A3B-0000-4000-8000-000000000001").kind == "client_id"
    assert parse_identity("my-identity").kind == "name"
    with pytest.raises(UsageError):
        parse_identity("bad name!")
