"""Rich output for people: errors on stderr, results and findings on stdout."""

from __future__ import annotations

import json
from typing import Any, Sequence

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
    steps = error.data.get("steps") if isinstance(error.data, dict) else None
    if steps:  # a write that failed midway: every step and what became of it
        err.print("Steps:")
        for step in steps:
            said = f"  {step.get('status', ''):<9} {step.get('object', '')} {step.get('name', '')}"
            if step.get("error"):
                said += f": {step['error']}"
            err.print(escape(redact_text(said)), soft_wrap=True)


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


def print_whole(title: str, headers: Sequence[str] | None, rows: Sequence[Sequence[Any]]) -> None:
    """Rows as a table when every cell fits the terminal unfolded, else as lines: the first cell,
    then each other one on its own line. Either way nothing a user compares or copies (ids,
    scopes, issuers, paths) is folded or cut; a long line is left to the terminal to wrap."""
    from rich.cells import cell_len

    out = console.out()
    texts = [[redact_text("" if v is None else str(v)) for v in row] for row in rows]
    columns = max([len(headers or ())] + [len(r) for r in texts])
    widths = [max([cell_len(r[i]) for r in texts if i < len(r)]
                  + [cell_len(headers[i]) if headers and i < len(headers) else 0])
              for i in range(columns)]
    if sum(widths) + 3 * columns + 1 <= out.width:  # cells, their padding and borders
        table = Table(title=title, show_header=headers is not None, title_justify="left")
        for i in range(columns):
            table.add_column(escape(headers[i]) if headers else "", no_wrap=True,
                             style="bold" if headers is None and i == 0 else None)
        for row in texts:
            table.add_row(*(escape(v) for v in row))
        out.print(table)
        return
    out.print(f"[bold]{escape(title)}[/]")
    for row in texts:
        if headers is None:
            out.print(f"  [bold]{escape(row[0])}[/]: " + escape(" ".join(row[1:])))
            continue
        out.print(f"  [bold]{escape(row[0])}[/]")
        for header, value in zip(headers[1:], row[1:]):
            if value:
                out.print(f"      {escape(header)}: {escape(value)}")


def key_value_table(title: str, rows: dict[str, Any]) -> None:
    print_whole(title, None, [(k, v) for k, v in redact(rows).items()])


def print_result(result: CommandResult) -> None:
    """Generic rendering; commands with their own views render before calling this."""
    if isinstance(result.data, dict) and result.data:
        key_value_table(result.command, result.data)
    for finding in result.findings:
        print_finding(finding)
