"""Terraform failures into WiErrors (one sentence, the fix, the exit code), on plain data."""

from __future__ import annotations

from pathlib import Path

import pytest

from wi_cli.adapters.terraform.errors import (
    INSTALL_HINT,
    Interrupted,
    TerraformFailed,
    TerraformMissing,
    failed,
    interrupted,
    last_lines,
    sentence,
)
from wi_cli.adapters.terraform.events import Diagnostic, Event, TextLine
from wi_cli.adapters.terraform.runner import parse_version, version_from_output
from wi_cli.core import errors as wi
from wi_cli.render.jsonout import envelope

WORKDIR = Path("/state/terraform")


def diag(summary: str, severity: str = "error", address: str = "", detail: str = "") -> Diagnostic:
    return Diagnostic(type="diagnostic", message=summary, severity=severity, summary=summary,
                      address=address, detail=detail)


def test_sentence() -> None:
    assert sentence("terraform  was\nnot found") == "Terraform was not found."
    assert sentence("Done!") == "Done!" and sentence("x.") == "X."


def test_one_error_diagnostic_is_the_message() -> None:
    error = failed("plan", 1, [diag("No value for required variable", address="var.greeting"),
                               diag("Deprecated", severity="warning")], "", WORKDIR)
    assert isinstance(error, wi.TerraformError) and error.exit_code == 4
    assert error.message == "Terraform plan failed: var.greeting: No value for required variable."
    assert [d.summary for d in error.diagnostics] == ["No value for required variable"]
    assert (error.command, error.returncode) == ("plan", 1)
    assert error.remediation[-1] == f"working directory: {WORKDIR}"
    assert "provider registry" not in " ".join(error.remediation)


def test_several_errors_name_the_first_and_the_count() -> None:
    errors: list[Event] = [diag("first problem", address="a.x"), diag("second problem")]
    error = failed("apply", 1, errors, "", WORKDIR)
    assert error.message == "Terraform apply failed with 2 errors, the first: a.x: first problem."
    assert len(error.diagnostics) == 2  # the display shows them all


def test_without_diagnostics_the_last_lines_of_output_say_why() -> None:
    text: list[Event] = [TextLine(type="text", message="Initializing the backend..."),
                         TextLine(type="text", message="╷"),
                         TextLine(type="text", message="│ Error: Failed to query available "
                                                       "provider packages")]
    error = failed("init", 1, text, "│ registry.terraform.io unreachable\n╵\n", WORKDIR)
    assert error.message == ("Terraform init failed: Initializing the backend... Error: Failed "
                             "to query available provider packages registry.terraform.io "
                             "unreachable.")
    assert error.diagnostics == [] and "provider registry" in error.remediation[0]
    assert failed("plan", 3, [], "", WORKDIR).message == "Terraform plan failed: exit code 3."


def test_last_lines_strips_box_drawing_and_keeps_the_last_few() -> None:
    text = "\n".join(["╷", "│ one", "│", "│ two", "╵", "three", "four", "five", "six"])
    assert last_lines(text) == "two three four five six"
    assert last_lines("") == ""


def test_interruption_says_how_to_resume() -> None:
    error = interrupted("apply", WORKDIR)
    assert isinstance(error, wi.Interrupted) and error.exit_code == 130
    assert error.message.startswith("Terraform apply was interrupted;")
    assert str(WORKDIR) in error.message and error.command == "apply"
    assert "again to resume" in error.remediation[0]


def test_the_envelope_shows_the_public_kind() -> None:
    """Scripts key on the error type: it stays the one wi has always reported."""
    cases = [(TerraformMissing("terraform was not found", INSTALL_HINT), "ConfigError", 3),
             (failed("plan", 1, [diag("bad")], "", WORKDIR), "TerraformError", 4),
             (TerraformFailed("x", command="output", returncode=1), "TerraformError", 4),
             (interrupted("plan", WORKDIR), "Interrupted", 130)]
    for error, kind, code in cases:
        assert isinstance(error, wi.WiError) and error.exit_code == code
        doc = envelope("provision", status="error", exit_code=error.exit_code, errors=[error])
        assert doc["errors"][0]["type"] == kind
    assert isinstance(interrupted("plan", WORKDIR), Interrupted)


@pytest.mark.parametrize("stdout, version, parsed", [
    ('{"terraform_version":"1.11.4","platform":"linux_amd64"}', "1.11.4", (1, 11, 4)),
    ("Terraform v1.5.7\non linux_amd64\n", "Terraform v1.5.7", (1, 5, 7)),
    ("", "", None),
    ("not a version", "not a version", None),
])
def test_version_from_output(stdout: str, version: str, parsed: tuple[int, ...] | None) -> None:
    assert version_from_output(stdout) == version
    assert parse_version(version) == parsed
