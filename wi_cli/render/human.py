"""Rich output for people: errors on stderr, results and findings on stdout."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.table import Table

from ..core.errors import WiError
from ..core.models import CommandResult, Finding, Status
from . import console
from ..core.redact import redact, redact_text

STATUS_MARK = {
    Status.OK: "[green]✓[/]",
    Status.WARN: "[yellow]![/]",
    Status.FAIL: "[red]✗[/]",
    Status.SKIP: "[dim]-[/]",
    Status.ERROR: "[red]?[/]",
}


def print_error(error: WiError) -> None:
    err = console.err()
    err.print(f"[bold red]Error:[/] {escape(redact_text(error.message))}")
    for line in error.remediation:
        err.print(f"  [cyan]→[/] {escape(redact_text(line))}")


def plain(value: Any) -> str:
    """A value as a person reads it: text as is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def print_finding(finding: Finding, indent: str = " ") -> None:
    out = console.out()
    out.print(f"{indent}{STATUS_MARK[finding.status]} {escape(finding.title)}: "
              f"{escape(redact_text(finding.summary))}")
    pad = indent + "    "
    if finding.evidence and finding.status in (Status.FAIL, Status.WARN, Status.ERROR):
        out.print(f"{pad}expected: {escape(redact_text(plain(finding.evidence.expected)))}")
        out.print(f"{pad}actual:   {escape(redact_text(plain(finding.evidence.actual)))}")
    if finding.remediation and finding.status in (Status.FAIL, Status.WARN, Status.ERROR):
        print_fix(finding, pad)


def print_fix(finding: Finding, pad: str) -> None:
    """The fix and its commands, each command on its own line, never cut (soft wrap)."""
    out = console.out()
    if finding.remediation is None:
        return
    if finding.remediation.text:
        out.print(f"{pad}fix: {escape(finding.remediation.text)}")
    for cmd in finding.remediation.commands:
        out.print(f"{pad}  [bold]$ {escape(cmd)}[/]", soft_wrap=True)


def key_value_table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value")
    for k, v in redact(rows).items():
        table.add_row(escape(str(k)), escape("" if v is None else str(v)))
    return table


def print_result(result: CommandResult) -> None:
    """Generic rendering; commands with their own views render before calling this."""
    out = console.out()
    if isinstance(result.data, dict) and result.data:
        out.print(key_value_table(result.command, result.data))
    for finding in result.findings:
        print_finding(finding)
