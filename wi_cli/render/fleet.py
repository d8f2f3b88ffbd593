"""`wi doctor --contexts/--all-contexts`: the fleet summary first (a few lines per context: its
cluster, issuer, the service accounts using workload identity, the counts and the worst finding),
then each context's problems grouped by what they are about, then what only the fleet shows, then
the closing line. Nothing a user copies (an issuer, a command) is folded or cut: long lines are
left to the terminal to wrap."""

from __future__ import annotations

from typing import Any

from ..core.models import CommandResult, Finding, Status, unreadable_sources
from .doctor import MARK, PROBLEMS, _by_target


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _counts(counts: dict[str, int]) -> str:
    return " · ".join(f"{s} {counts.get(s, 0)}" for s in ("ok", "warn", "fail", "error"))


def _row(row: dict[str, Any], by_key: dict[str, Finding]) -> None:
    from rich.markup import escape

    from . import console

    out = console.out()
    mark = MARK["error" if row["status"] == "error" else row["status"]]
    head = f"{mark} [bold]{escape(row['context'])}[/]"
    if row["error"]:
        out.print(head, soft_wrap=True)
        out.print(f"    error: {escape(row['error']['message'])}", soft_wrap=True)
        return
    out.print(f"{head}  cluster {escape(row['cluster'] or '-')}  "
              f"{_plural(row['service_accounts'], 'service account')}  "
              f"{_counts(row['counts'])}", soft_wrap=True)
    out.print(f"    issuer: {escape(row['issuer'] or '-')}", soft_wrap=True)
    worst = by_key.get(row["worst"] or "")
    if worst is not None:
        label = f" {worst.target.label}" if worst.target.label else ""
        out.print(f"    worst: {MARK[worst.status.value]} {escape(worst.id + label)}: "
                  f"{escape(worst.summary)}", soft_wrap=True)


def show(result: CommandResult) -> None:
    from rich.markup import escape

    from . import console
    from .human import print_finding

    out = console.out()
    data = result.data
    rows = data["contexts"]
    by_key = {f.key: f for f in result.findings}
    out.print(f"[bold]wi doctor[/] — {_plural(len(rows), 'context')}, {escape(data['scope'])}")
    for row in rows:
        _row(row, by_key)
    for row in rows:
        if row["error"]:
            out.print(f"\n[bold]── {escape(row['context'])}[/]: not checked (the error above)")
            for line in row["error"]["remediation"]:
                out.print(f"    [cyan]→[/] {escape(line)}", soft_wrap=True)
            continue
        problems = [by_key[k] for k in row["findings"] if by_key[k].status in PROBLEMS]
        if problems:
            out.print(f"\n[bold]── {escape(row['context'])}[/] "
                      f"(cluster {escape(row['cluster'] or '-')})")
            _by_target(problems)
    fleet = [by_key[k] for k in data["fleet"]["findings"] if by_key[k].status in PROBLEMS]
    if fleet:
        out.print("\n[bold]── across clusters[/]")
        for finding in fleet:
            print_finding(finding)
    _closing(result, rows)


def _closing(result: CommandResult, rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    from . import console

    out = console.out()
    counts = {s.value: sum(1 for f in result.findings if f.status == s) for s in Status}
    unreached = [r["context"] for r in rows if r["error"]]
    said = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if counts["fail"]:
        verdict = "[red]Problems found: fix the ✗ items above.[/]"
    elif result.exit_code == 0:
        verdict = "[green]No problems found.[/]"
    elif counts["warn"] and not counts["error"]:
        verdict = "[yellow]Warnings found (--fail-on warn).[/]"
    else:
        verdict = "[yellow]No problem found in what could be read, but some checks could not run.[/]"
    out.print(f"\n{said}. {verdict}")
    if unreached:
        out.print("Not reached: " + ", ".join(escape(c) for c in unreached) + ".")
    others = [u for u in unreadable_sources(result.findings)
              if not any(u.startswith(r["error"]["message"]) for r in rows if r["error"])]
    if others:
        out.print("Not checked: " + "; ".join(escape(u) for u in others) + ".")
