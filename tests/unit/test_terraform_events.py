"""Terraform's -json UI lines into typed events and plan/apply summaries, on plain data.

The lines have the shapes Terraform 1.11 prints (captured from `terraform plan -json` and
`terraform apply -json` on tests/fixtures/terraform/failing and basic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wi_cli.adapters.terraform.events import (
    ApplyComplete,
    ApplyErrored,
    ApplyProgress,
    ApplyStart,
    ChangeSummary,
    Diagnostic,
    Event,
    OutputsDeclared,
    PlannedChange,
    ProvisionProgress,
    ResourceDrift,
    TextLine,
    parse_event,
    parse_line,
    parse_outputs,
    public_outputs,
    summarise_apply,
    summarise_plan,
)


def _resource(addr: str, kind: str = "terraform_data") -> dict[str, Any]:
    name = addr.split(".", 1)[1]
    return {"addr": addr, "module": "", "resource": addr, "implied_provider": "terraform",
            "resource_type": kind, "resource_name": name, "resource_key": None}


def _line(kind: str, message: str, level: str = "info", **body: Any) -> str:
    return json.dumps({"@level": level, "@message": message, "@module": "terraform.ui",
                       "@timestamp": "2025-01-01T00:00:00.000000Z", "type": kind, **body})


def planned(addr: str, action: str = "create") -> str:
    return _line("planned_change", f"{addr}: Plan to {action}",
                 change={"resource": _resource(addr), "action": action})


def summary(add: int = 0, change: int = 0, remove: int = 0, operation: str = "plan",
            imported: int = 0) -> str:
    return _line("change_summary", "Plan: ...", changes={
        "add": add, "change": change, "import": imported, "remove": remove,
        "operation": operation})


def diagnostic(summary: str, severity: str = "error", detail: str = "", address: str = "",
               filename: str = "", line: int | None = None) -> str:
    diag: dict[str, Any] = {"severity": severity, "summary": summary, "detail": detail}
    if address:
        diag["address"] = address
    if filename:
        diag["range"] = {"filename": filename, "start": {"line": line, "column": 3, "byte": 40},
                         "end": {"line": line, "column": 9, "byte": 46}}
    return _line("diagnostic", f"{severity.title()}: {summary}", level=severity, diagnostic=diag)


def events(*lines: str) -> list[Event]:
    parsed = [parse_line(line) for line in lines]
    return [e for e in parsed if e is not None]


def test_a_planned_change_carries_address_type_and_action() -> None:
    event = parse_line(planned("terraform_data.ok"))
    assert isinstance(event, PlannedChange)
    assert (event.address, event.resource_type, event.action) == \
        ("terraform_data.ok", "terraform_data", "create")
    assert event.message == "terraform_data.ok: Plan to create" and event.level == "info"
    assert event.timestamp.startswith("2025-01-01")


def test_drift_is_not_a_planned_change() -> None:
    line = _line("resource_drift", "drifted", change={"resource": _resource("terraform_data.x"),
                                                       "action": "update"})
    event = parse_line(line)
    assert isinstance(event, ResourceDrift) and not isinstance(event, PlannedChange)
    assert event.action == "update"


def test_apply_hooks_carry_elapsed_time_and_id() -> None:
    start, done, failed, progress = events(
        _line("apply_start", "Creating...",
              hook={"resource": _resource("terraform_data.ok"), "action": "create"}),
        _line("apply_complete", "Creation complete after 1s",
              hook={"resource": _resource("terraform_data.ok"), "action": "create",
                    "id_key": "id", "id_value": "06caa21f", "elapsed_seconds": 1}),
        _line("apply_errored", "Creation errored after 0s",
              hook={"resource": _resource("terraform_data.broken"), "action": "create",
                    "elapsed_seconds": 0}),
        _line("apply_progress", "Still creating... [10s elapsed]",
              hook={"resource": _resource("azurerm_kubernetes_cluster.aks",
                                          "azurerm_kubernetes_cluster"),
                    "action": "create", "elapsed_seconds": 10}),
    )
    assert isinstance(start, ApplyStart) and start.address == "terraform_data.ok"
    assert isinstance(done, ApplyComplete)
    assert (done.id_key, done.id_value, done.elapsed_seconds) == ("id", "06caa21f", 1)
    assert isinstance(failed, ApplyErrored) and failed.address == "terraform_data.broken"
    assert isinstance(progress, ApplyProgress) and progress.elapsed_seconds == 10
    assert progress.resource_type == "azurerm_kubernetes_cluster"


def test_provisioner_output_is_kept() -> None:
    event = parse_line(_line("provision_progress", "(local-exec): going to fail", hook={
        "resource": _resource("terraform_data.broken"), "provisioner": "local-exec",
        "output": "going to fail"}))
    assert isinstance(event, ProvisionProgress)
    assert (event.provisioner, event.output) == ("local-exec", "going to fail")


def test_change_summary_counts() -> None:
    event = parse_line(summary(add=3, change=1, remove=2, imported=1, operation="apply"))
    assert isinstance(event, ChangeSummary)
    assert (event.add, event.change, event.remove, event.import_, event.operation) == \
        (3, 1, 2, 1, "apply")


def test_a_diagnostic_describes_itself_in_one_line() -> None:
    event = parse_line(diagnostic("local-exec provisioner error",
                                  detail="exit status 7. Output: going to fail\n",
                                  address="terraform_data.broken", filename="main.tf", line=9))
    assert isinstance(event, Diagnostic) and event.severity == "error"
    assert (event.filename, event.line) == ("main.tf", 9)
    assert event.describe() == ("terraform_data.broken: local-exec provisioner error: "
                                "exit status 7. Output: going to fail\n (main.tf:9)")
    bare = parse_line(diagnostic("No configuration files"))
    assert isinstance(bare, Diagnostic) and bare.describe() == "No configuration files"


def test_outputs_event_says_which_are_sensitive_without_values() -> None:
    event = parse_line(_line("outputs", "Outputs: 2", outputs={
        "greeting": {"sensitive": False, "type": "string", "value": "hello"},
        "token": {"sensitive": True, "type": "string"}}))
    assert isinstance(event, OutputsDeclared)
    assert event.sensitive == {"greeting": False, "token": True}


def test_unknown_blank_and_non_json_lines() -> None:
    version = parse_line(_line("version", "Terraform 1.11.4", terraform="1.11.4", ui="1.2"))
    assert type(version) is Event and version.type == "version"
    assert parse_line("   \n") is None
    text = parse_line("Initializing the backend...\n")
    assert isinstance(text, TextLine) and text.message == "Initializing the backend..."
    broken = parse_line("{not json")
    assert isinstance(broken, TextLine) and broken.message == "{not json"
    assert isinstance(parse_line("[1, 2]"), TextLine)
    assert type(parse_event({})) is Event


def test_plan_summary_takes_the_last_change_summary_and_the_warnings() -> None:
    plan = summarise_plan(events(
        planned("terraform_data.old", "delete"), planned("terraform_data.new"),
        planned("terraform_data.swap", "replace"),
        diagnostic("Deprecated attribute", severity="warning", address="terraform_data.old"),
        summary(add=2, remove=2)), Path("/w/wi.tfplan"), destroy=False)
    assert (plan.add, plan.change, plan.remove, plan.import_) == (2, 0, 2, 0)
    assert plan.has_changes and plan.total == 4 and not plan.destroy
    assert plan.actions() == {"terraform_data.old": "delete", "terraform_data.new": "create",
                              "terraform_data.swap": "replace"}
    assert [w.summary for w in plan.warnings] == ["Deprecated attribute"]


def test_a_plan_with_nothing_to_do_or_no_summary_has_no_changes() -> None:
    assert not summarise_plan(events(summary()), Path("p"), destroy=True).has_changes
    empty = summarise_plan([], Path("p"), destroy=False)
    assert (empty.total, empty.changes, empty.warnings) == (0, [], [])
    assert summarise_plan(events(summary(imported=1)), Path("p"), destroy=False).has_changes


def test_apply_summary_lists_completed_resources() -> None:
    result = summarise_apply(events(
        _line("apply_complete", "done", hook={"resource": _resource("terraform_data.ok"),
                                              "action": "create", "elapsed_seconds": 0}),
        summary(add=1, operation="apply")), elapsed=2.5)
    assert (result.add, result.operation, result.completed) == (1, "apply", ["terraform_data.ok"])
    assert result.elapsed_seconds == 2.5 and result.warnings == []


def test_outputs_drop_sensitive_values_and_never_show_them() -> None:
    outputs = parse_outputs({
        "greeting": {"sensitive": False, "type": "string", "value": "hello"},
        "token": {"sensitive": True, "type": "string", "value": "s3cret-value"},
        "items": {"sensitive": False, "type": ["tuple", ["string"]], "value": ["item-0"]}})
    assert public_outputs(outputs) == {"greeting": "hello", "items": ["item-0"]}
    assert outputs["token"].value == "s3cret-value"
    assert "s3cret-value" not in repr(outputs) and "<sensitive>" in repr(outputs["token"])
