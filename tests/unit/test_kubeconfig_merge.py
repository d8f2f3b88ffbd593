"""Merging a received kubeconfig into the user's: pure functions on dicts and YAML text, plus the
file write (atomic, mode 0600, never quoting credentials in errors)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from wi_cli.adapters.kube.kubeconfig import (
    KubeconfigError,
    default_path,
    merge,
    merge_into_file,
    merge_text,
    parse_kubeconfig,
)
from wi_cli.core.errors import ExitCode


def kubeconfig(name: str, token: str, user: str | None = None, server: str | None = None) -> dict:
    user = user or f"clusterUser_rg_{name}"
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": name, "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server or f"https://{name}:443"}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
    }


def names(config: dict, section: str) -> list[str]:
    return [entry["name"] for entry in config[section]]


def test_merge_into_nothing_is_the_received_config() -> None:
    incoming = kubeconfig("aks", "t1")
    result = merge(None, incoming)
    assert result.context == "aks" and result.previous_context is None
    assert result.config["current-context"] == "aks"
    for section in ("clusters", "users", "contexts"):
        assert result.config[section] == incoming[section]
    assert result.added == ["cluster aks", "user clusterUser_rg_aks", "context aks"]


def test_other_clusters_users_and_contexts_survive_in_order() -> None:
    existing = kubeconfig("other", "keep")
    existing["extensions"] = [{"name": "x", "extension": {"a": 1}}]
    existing["preferences"] = {"colors": True}
    result = merge(existing, kubeconfig("aks", "t1"))
    for section in ("clusters", "contexts"):
        assert names(result.config, section) == ["other", "aks"]
    assert result.config["users"][0] == {"name": "clusterUser_rg_other", "user": {"token": "keep"}}
    assert result.config["extensions"] == existing["extensions"]
    assert result.config["preferences"] == {"colors": True}
    assert result.previous_context == "other" and result.config["current-context"] == "aks"
    assert existing["current-context"] == "other"  # the input is not modified


def test_same_names_are_replaced_in_place() -> None:
    existing = kubeconfig("aks", "old-token", server="https://old:443")
    existing["clusters"].insert(0, {"name": "first", "cluster": {"server": "https://first"}})
    result = merge(existing, kubeconfig("aks", "new-token", server="https://new:443"))
    assert names(result.config, "clusters") == ["first", "aks"]
    assert result.config["clusters"][1]["cluster"]["server"] == "https://new:443"
    assert result.config["users"] == [{"name": "clusterUser_rg_aks", "user": {"token": "new-token"}}]
    assert result.replaced == ["cluster aks", "user clusterUser_rg_aks", "context aks"]
    assert result.added == []


def test_current_context_can_be_left_alone() -> None:
    result = merge(kubeconfig("other", "keep"), kubeconfig("aks", "t1"), set_current=False)
    assert result.config["current-context"] == "other" and result.context == "aks"


def test_received_config_without_current_context_but_one_context_is_fine() -> None:
    incoming = kubeconfig("aks", "t1")
    del incoming["current-context"]
    assert merge(None, incoming).context == "aks"


def test_received_config_with_ambiguous_contexts_is_refused() -> None:
    incoming = kubeconfig("aks", "t1")
    incoming["contexts"].append({"name": "second", "context": {"cluster": "aks", "user": "u"}})
    del incoming["current-context"]
    with pytest.raises(KubeconfigError, match="which of its 2 contexts"):
        merge(None, incoming)


def test_merge_text_round_trips_yaml() -> None:
    text, result = merge_text(yaml.safe_dump(kubeconfig("other", "keep")),
                              yaml.safe_dump(kubeconfig("aks", "t1")).encode())
    doc = yaml.safe_load(text)
    assert names(doc, "contexts") == ["other", "aks"] and doc["current-context"] == "aks"
    assert result.context == "aks"


def test_empty_existing_text_is_filled() -> None:
    text, _ = merge_text("", yaml.safe_dump(kubeconfig("aks", "t1")))
    assert names(yaml.safe_load(text), "users") == ["clusterUser_rg_aks"]


@pytest.mark.parametrize("existing, fragment", [
    # PyYAML's own message would quote this line, token included
    ("users:\n- name: u\n  user: {token: s3cr3t-in-broken-yaml]\n",
     "is not valid: it is not YAML (error at line 3"),
    ("- just\n- a list\n", "is not valid: it is a YAML list, not a mapping"),
    ("users:\n- user: {token: s3cr3t-in-broken-yaml}\n",
     "'users' must be a list of entries, each with a name"),
    ("contexts: nope-s3cr3t-in-broken-yaml\n", "'contexts' must be a list"),
])
def test_broken_existing_file_is_a_config_error_that_quotes_nothing(existing: str,
                                                                   fragment: str) -> None:
    with pytest.raises(KubeconfigError) as info:
        merge_text(existing, yaml.safe_dump(kubeconfig("aks", "t1")), where="/home/u/.kube/config")
    assert fragment in info.value.message and "/home/u/.kube/config" in info.value.message
    assert "s3cr3t" not in info.value.message + " ".join(info.value.remediation)
    assert info.value.exit_code == ExitCode.CONFIG


def test_parse_of_bytes_that_are_not_utf8_is_refused() -> None:
    with pytest.raises(KubeconfigError, match="not UTF-8"):
        parse_kubeconfig(b"\xff\xfe\x00", "received")


def test_merge_into_file_creates_it_private(tmp_path: Path) -> None:
    path = tmp_path / "kube" / "config"
    result = merge_into_file(path, yaml.safe_dump(kubeconfig("aks", "t1")))
    assert result.context == "aks"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text())["current-context"] == "aks"
    assert [p.name for p in path.parent.iterdir()] == ["config"]  # no temp file left


def test_merge_into_file_keeps_others_and_tightens_mode(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig("other", "keep")))
    path.chmod(0o644)
    merge_into_file(path, yaml.safe_dump(kubeconfig("aks", "t1")))
    doc = yaml.safe_load(path.read_text())
    assert names(doc, "contexts") == ["other", "aks"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_merge_into_file_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real-config"
    real.write_text(yaml.safe_dump(kubeconfig("other", "keep")))
    link = tmp_path / "config"
    link.symlink_to(real)
    merge_into_file(link, yaml.safe_dump(kubeconfig("aks", "t1")))
    assert link.is_symlink()
    assert names(yaml.safe_load(real.read_text()), "contexts") == ["other", "aks"]


def test_broken_file_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("clusters: [\n")
    with pytest.raises(KubeconfigError):
        merge_into_file(path, yaml.safe_dump(kubeconfig("aks", "t1")))
    assert path.read_text() == "clusters: [\n"


def test_default_path_is_the_first_of_a_list(tmp_path: Path) -> None:
    assert default_path(f"{tmp_path}/a:{tmp_path}/b") == tmp_path / "a"
