"""examples/ci: the GitHub Actions workflow and the Azure Pipelines YAML sign in with workload
identity federation (no secret anywhere), run wi doctor over every context as JUnit, and publish
the very file wi writes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
SECRETISH = re.compile(r"secret|password|client-secret|creds", re.IGNORECASE)


def load(name: str) -> dict[Any, Any]:
    # YAML 1.1 reads GitHub's `on:` key as True; take it either way
    return yaml.safe_load((CI / name).read_text())


def doctor_report(script: str) -> str:
    """The --output-file of the `wi doctor` command in a script, checking the command."""
    line = next(line for line in script.splitlines() if line.strip().startswith("wi doctor"))
    argv = shlex.split(line)
    assert "--all-contexts" in argv and argv[argv.index("-o") + 1] == "junit"
    return argv[argv.index("--output-file") + 1]


def test_github_actions_signs_in_with_oidc_and_publishes_what_wi_wrote() -> None:
    doc = load("github-actions.yml")
    assert doc["permissions"]["id-token"] == "write"
    steps = doc["jobs"]["doctor"]["steps"]
    login = next(s for s in steps if str(s.get("uses", "")).startswith("azure/login@"))
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    for step in steps:
        for key, value in (step.get("with") or {}).items():
            assert not SECRETISH.search(f"{key} {value}"), (key, value)
    assert "secrets." not in (CI / "github-actions.yml").read_text()
    assert any("pipx install" in str(s.get("run", "")) for s in steps)
    written = doctor_report(next(s["run"] for s in steps if "wi doctor" in str(s.get("run"))))
    publish = next(s for s in steps if "junit-report" in str(s.get("uses", "")))
    assert publish["with"]["report_paths"] == written and publish["if"] == "always()"


def test_azure_pipelines_uses_a_federated_service_connection_and_publishes_junit() -> None:
    doc = load("azure-pipelines.yml")
    text = (CI / "azure-pipelines.yml").read_text()
    assert "workload identity federation" in text.lower()
    steps = doc["steps"]
    cli = next(s for s in steps if s.get("task") == "AzureCLI@2")
    assert cli["inputs"]["azureSubscription"] == "$(serviceConnection)"
    assert not any(SECRETISH.search(str(k)) for k in cli["inputs"])
    assert "pipx install" in cli["inputs"]["inlineScript"]
    written = doctor_report(cli["inputs"]["inlineScript"]).replace('"', "")
    publish = next(s for s in steps if s.get("task") == "PublishTestResults@2")
    assert publish["inputs"]["testResultsFormat"] == "JUnit"
    assert publish["inputs"]["testResultsFiles"] == written == "$(report)"
    assert publish["condition"] == "succeededOrFailed()"
