"""What `wi doctor` shows a person, on an 80-column terminal, and the chains its JSON carries:
one service account is drawn as its trust chain; several get a one-line summary each, then only
the problems grouped by service account; a namespace with nothing to check says so and points at
the namespaces that have something."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from support import operator_env, seeded_lab, set_env
from wi_cli.lab.kube import scenarios
from wi_cli.lab.kube.webhook import CLIENT_ID_ANNOTATION

LINKS = ["cluster", "pod", "service-account", "credential", "identity", "roles", "token"]
AN_HOUR_AGO = time.time() - 3600


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """demo/wi-lab-sa is bound and healthy; in `views`, `good` is bound to the same identity and
    `unbound` is annotated for it but has no federated credential; `quiet` has nothing."""
    with seeded_lab("bound", tmp_path_factory.mktemp("doctor-views")) as world:
        lab, seeded, store = world["lab"], world["seeded"], world["store"]
        identity = seeded.identity
        for ns in ("views", "quiet"):
            store.create("namespaces", None, {"metadata": {"name": ns}})
        for sa in ("good", "unbound"):
            store.create("serviceaccounts", "views", {"metadata": {
                "name": sa, "annotations": {CLIENT_ID_ANNOTATION: identity.client_id}}})
        lab.azure.add_fic(identity, "views-good", seeded.issuer_url,
                          "system:serviceaccount:views:good")
        for fic in identity.fics.values():  # old enough to have propagated
            fic.created_at = AN_HOUR_AGO
        yield world


@pytest.fixture(autouse=True)
def env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_env(monkeypatch, operator_env(world["lab"], world["seeded"], world["kubeconfig"]))


def cut(text: str) -> list[str]:
    """Lines where rich cut something short (long lines are fine: the terminal wraps them)."""
    return [line for line in text.splitlines() if "…" in line]


def test_one_service_account_is_drawn_as_its_chain(wi) -> None:
    run = wi("doctor", "-n", "demo", "--no-live", columns=80)
    assert run.code == 0
    head = run.out.splitlines()[:2]
    assert head == ["wi doctor — namespace demo", "✓ demo/wi-lab-sa → wi-lab-identity"]
    for name in ("Cluster and webhook", "Pod", "Service account", "Federated credential",
                 "Managed identity", "Role assignments", "Token from Entra"):
        assert f" {name}: " in run.out
    assert "Pod: nothing to check" in run.out
    # the findings by layer follow, and the closing line
    assert "\nidentity\n" in run.out and "No problems found." in run.out.splitlines()[-1]


def test_the_chain_in_json_names_its_links_and_their_findings(wi) -> None:
    doc = wi("doctor", "-n", "demo", "--no-live", "-o", "json").json
    (chain,) = doc["data"]["chains"]
    assert (chain["namespace"], chain["service_account"], chain["identity"]) == \
        ("demo", "wi-lab-sa", "wi-lab-identity")
    assert chain["status"] == "ok" and chain["broken_link"] is None
    assert [link["link"] for link in chain["links"]] == LINKS
    keys = {f["key"] for f in doc["findings"]}
    for link in chain["links"]:
        assert set(link["findings"]) <= keys, link["link"]
    by_key = {f["key"]: f for f in doc["findings"]}
    credential = next(link for link in chain["links"] if link["link"] == "credential")
    assert "identity.fic" in {by_key[k]["id"] for k in credential["findings"]}
    skipped = next(link for link in chain["links"] if link["link"] == "token")
    assert skipped["status"] == "skip"


def test_several_service_accounts_get_a_summary_then_only_their_problems(wi) -> None:
    run = wi("doctor", "-n", "views", "--no-live", columns=80)
    assert run.code == 1
    assert "Service accounts" in run.out
    table = run.out.split("Service accounts", 1)[1].split("\n\n", 1)[0]
    assert "views/good" in table and "views/unbound" in table
    assert "│ ✗ │ views/unbound" in table and "│ ✓ │ views/good" in table
    rest = run.out.split(table, 1)[1]
    # only problems, under the service account they are about
    assert "\nviews/unbound\n" in rest and "\nviews/good\n" not in rest
    assert " ✓ " not in rest
    assert "$ wi bind unbound wi-lab-identity -n views" in rest
    assert cut(run.out) == []


def test_several_chains_in_json_say_where_each_one_breaks(wi) -> None:
    doc = wi("doctor", "-n", "views", "--no-live", "-o", "json").json
    chains = {c["service_account"]: c for c in doc["data"]["chains"]}
    assert set(chains) == {"good", "unbound"}
    assert chains["good"]["broken_link"] is None and chains["good"]["status"] == "ok"
    broken = chains["unbound"]
    assert broken["status"] == "fail" and broken["broken_link"] == "credential"
    link = next(link for link in broken["links"] if link["link"] == "credential")
    culprits = [f for f in doc["findings"] if f["key"] in link["findings"]
                and f["status"] == "fail"]
    assert [f["id"] for f in culprits] == ["identity.fic"]
    assert culprits[0]["target"]["service_account"] == "unbound"
    # findings about another service account are not part of this chain
    assert all(f["target"]["service_account"] in (None, "unbound")
               for f in doc["findings"] if any(f["key"] in lk["findings"]
                                               for lk in broken["links"]))


def test_tree_draws_every_chain_with_the_fix_under_the_broken_link(wi) -> None:
    run = wi("doctor", "-n", "views", "--no-live", "--tree", columns=80)
    assert run.code == 1
    assert "✓ views/good → wi-lab-identity" in run.out
    assert "✗ views/unbound → wi-lab-identity" in run.out
    chain = run.out.split("✗ views/unbound", 1)[1]
    credential = chain.split("Federated credential", 1)[1].split("Managed identity", 1)[0]
    assert "fix: " in credential and "(command below)" in " ".join(credential.split())
    # under the tree, whole on its line (a tree would wrap it), ready to copy
    after = chain.split("Token from Entra", 1)[1].splitlines()
    assert after[1] == "  $ wi bind unbound wi-lab-identity -n views"
    assert "Service accounts" not in run.out
    assert cut(run.out) == []


def test_problems_shows_the_chain_and_nothing_that_passed(wi) -> None:
    run = wi("doctor", "-n", "views", "--service-account", "unbound", "--no-live",
             "--problems", columns=80)
    assert run.code == 1
    findings = run.out.split("Token from Entra", 1)[1].split("\n", 1)[1]
    assert "Federated credential matches the service account" in findings
    assert " ✓ " not in findings and " - " not in findings
    healthy = wi("doctor", "-n", "demo", "--no-live", "--problems", columns=80)
    assert healthy.code == 0
    after_tree = healthy.out.split("Token from Entra", 1)[1].split("\n", 1)[1]
    assert after_tree.strip().splitlines()[-1].endswith("No problems found.")
    assert "\ncluster\n" not in after_tree


def test_a_namespace_with_nothing_to_check_points_at_those_with_something(wi) -> None:
    run = wi("doctor", "-n", "quiet", "--no-live", columns=80)
    assert run.code == 0
    assert "Nothing in namespace quiet uses workload identity" in run.out
    assert "Service accounts that do: demo (1), views (2)." in run.out
    assert "wi doctor -n demo" in run.out and "wi doctor -A" in run.out
    doc = wi("doctor", "-n", "quiet", "--no-live", "-o", "json").json
    assert doc["data"]["chains"] == []
    assert doc["data"]["elsewhere"] == {"demo": 1, "views": 2}


def test_all_namespaces_and_one_namespace_do_not_go_together(wi) -> None:
    run = wi("doctor", "-A", "-n", "demo")
    assert run.code == 2 and run.out == ""
    assert "-A" in run.err and "--namespace" in run.err


def test_the_check_list_names_what_each_check_detects(wi) -> None:
    run = wi("doctor", "--list-checks", columns=80)
    assert run.code == 0
    assert "identity.fic" in run.out and "detects: " in run.out
    doc = wi("doctor", "--list-checks", "-o", "json").json
    fic = next(c for c in doc["data"]["checks"] if c["id"] == "identity.fic")
    assert len(fic["failure_modes"]) == len(fic["failure_mode_names"]) > 0
    assert all(name for name in fic["failure_mode_names"])
    assert scenarios.NAMESPACE == "demo"


def test_a_project_file_sets_the_namespace_per_command_and_a_flag_still_wins(wi) -> None:
    project = Path.cwd() / ".wi.toml"  # the test's home folder, its working directory
    project.write_text('namespace = "quiet"\n[doctor]\nnamespace = "views"\nno-live = true\n')
    try:
        assert wi("doctor", "-o", "json").json["data"]["scope"] == "namespace views"
        assert wi("doctor", "-n", "demo", "-o", "json").json["data"]["scope"] == "namespace demo"
        everywhere = wi("doctor", "-A", "-o", "json")  # the file's namespace is no -n
        assert everywhere.code == 1 and everywhere.json["data"]["scope"] == "all namespaces"
        project.write_text('namespace = "quiet"\n')  # the shared key, for every command
        assert wi("doctor", "--no-live", "-o", "json").json["data"]["scope"] == "namespace quiet"
        project.write_text('[doctor]\nnamespcae = "views"\n')
        typo = wi("doctor", "--no-live", "-o", "json")
        assert typo.code == 3 and "[doctor] has no option 'namespcae'" in \
            typo.json["errors"][0]["message"]
        project.write_text('[doctr]\nnamespace = "views"\n')
        typo = wi("doctor", "--no-live")
        assert typo.code == 3 and "has a table [doctr]" in typo.err
    finally:
        project.unlink()
