"""`wi doctor`'s views: the checks it runs, and the findings by layer with the closing line."""

from __future__ import annotations

from ..core.models import CommandResult


def show_checks(result: CommandResult) -> None:
    from rich.table import Table

    from . import console

    table = Table(title="wi doctor checks", title_justify="left")
    for col in ("Id", "Layer", "Title", "Failure modes"):
        table.add_column(col)
    for c in result.data["checks"]:
        table.add_row(c["id"], c["layer"], c["title"],
                      ", ".join(str(m) for m in c["failure_modes"]))
    console.out().print(table)


def show(result: CommandResult) -> None:
    from rich.markup import escape

    from ..core.models import LAYERS, Status, unreadable_sources
    from . import console
    from .human import print_finding

    out = console.out()
    data = result.data
    out.print(f"[bold]wi doctor[/] — {data['scope']}")
    for layer in LAYERS:
        in_layer = [f for f in result.findings if f.layer == layer]
        if not in_layer:
            continue
        out.print(f"\n[bold underline]{layer}[/]")
        for finding in in_layer:
            print_finding(finding)
    counts = {s.value: sum(1 for f in result.findings if f.status == s) for s in Status}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    failed = counts[Status.FAIL.value] > 0
    if failed:
        verdict = "[red]Problems found: fix the ✗ items above (in order).[/]"
    elif result.exit_code == 0:
        verdict = "[green]No problems found.[/]"
    else:
        verdict = "[yellow]No problem found in what could be read, but some checks could not run.[/]"
    out.print(f"\n{summary}. {verdict}")
    unreadable = unreadable_sources(result.findings)
    if unreadable:
        out.print("Not checked: " + "; ".join(escape(u) for u in unreadable) + ".")
