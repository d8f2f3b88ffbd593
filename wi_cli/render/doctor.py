"""`wi doctor`'s views: the checks it runs; the trust chain of each service account as a tree; a
one-line-per-service-account summary when there are several; and the findings by layer, then the
closing line."""

from __future__ import annotations

from typing import Any

from ..core.models import LAYERS, CommandResult, Finding, Status, unreadable_sources

MARK = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]", "error": "[red]?[/]",
        "skip": "[dim]-[/]"}
PROBLEMS = (Status.WARN, Status.FAIL, Status.ERROR)


def show_checks(result: CommandResult) -> None:
    from rich.markup import escape

    from . import console

    out = console.out()
    out.print("[bold]wi doctor checks[/] (run one with --check ID)")
    for layer in LAYERS:
        out.print(f"\n[bold underline]{layer}[/]")
        for c in (c for c in result.data["checks"] if c["layer"] == layer):
            out.print(f"  [bold]{escape(c['id'])}[/]  {escape(c['title'])}"
                      + (" [dim](live)[/]" if c["live"] else ""), soft_wrap=True)
            modes = "; ".join(f"{m} {name}" for m, name in zip(c["failure_modes"],
                                                              c["failure_mode_names"]))
            if modes:
                out.print(f"      [dim]detects: {escape(modes)}[/]")


def _tree(chain: dict[str, Any], findings: dict[str, Finding]) -> tuple[Any, list[str]]:
    """The chain as a tree, and the commands that fix its broken link: those are printed under
    the tree, whole, because a tree wraps its labels and a command must stay copyable."""
    from rich.markup import escape
    from rich.tree import Tree

    title = f"{chain['namespace']}/{chain['service_account']}"
    if chain.get("identity"):
        title += f" → {chain['identity']}"
    tree = Tree(f"{MARK[chain['status']]} [bold]{escape(title)}[/]")
    commands: list[str] = []
    for link in chain["links"]:
        broken = link["link"] == chain.get("broken_link")
        style = "bold red" if broken else ""
        label = f"{MARK[link['status']]} [{style or 'default'}]{escape(link['name'])}[/]: " \
                f"{escape(link['summary'])}"
        node = tree.add(label)
        if broken:
            culprit = next((findings[k] for k in link["findings"] if k in findings
                            and findings[k].status in (Status.FAIL, Status.ERROR)), None)
            if culprit is not None and culprit.remediation is not None:
                commands = list(culprit.remediation.commands)
                text = culprit.remediation.text or "run:"
                node.add(f"fix: {escape(text)}" + (" [dim](command below)[/]" if commands else ""))
    return tree, commands


def _summary_table(chains: list[dict[str, Any]]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Service accounts", title_justify="left")
    for col in ("", "Service account", "Identity", "First problem"):
        table.add_column(col, overflow="fold")
    for chain in chains:
        broken = next((link for link in chain["links"]
                       if link["link"] == chain.get("broken_link")), None)
        warned = next((link for link in chain["links"] if link["status"] == "warn"), None)
        problem = broken or warned
        table.add_row(MARK[chain["status"]],
                      escape(f"{chain['namespace']}/{chain['service_account']}"),
                      escape(chain.get("identity") or "-"),
                      escape(f"{problem['name']}: {problem['summary']}") if problem else "")
    return table


def show(result: CommandResult) -> None:
    from rich.markup import escape

    from . import console
    from .human import print_finding

    out = console.out()
    data = result.data
    options = result.view_options
    chains = data.get("chains") or []
    by_key = {f.key: f for f in result.findings}
    out.print(f"[bold]wi doctor[/] — {escape(data['scope'])}")
    if len(chains) == 1 or (chains and options.get("tree")):
        for chain in chains:
            tree, commands = _tree(chain, by_key)
            out.print(tree, soft_wrap=False)
            for cmd in commands:
                out.print(f"  [bold]$ {escape(cmd)}[/]", soft_wrap=True)
    elif chains:
        out.print(_summary_table(chains))
    several = len(chains) > 1
    shown = [f for f in result.findings
             if not (options.get("problems") or several) or f.status in PROBLEMS]
    if several:
        _by_target(shown)
    else:
        for layer in LAYERS:
            in_layer = [f for f in shown if f.layer == layer]
            if in_layer:
                out.print(f"\n[bold underline]{layer}[/]")
                for finding in in_layer:
                    print_finding(finding)
    _closing(result, data)


def _by_target(findings: list[Finding]) -> None:
    from rich.markup import escape

    from . import console
    from .human import print_finding

    out = console.out()
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.target.label or "cluster", []).append(f)
    for label, group in groups.items():
        out.print(f"\n[bold underline]{escape(label)}[/]")
        for finding in sorted(group, key=lambda f: LAYERS.index(f.layer)):
            print_finding(finding)


def _closing(result: CommandResult, data: dict[str, Any]) -> None:
    from rich.markup import escape

    from . import console

    out = console.out()
    counts = {s.value: sum(1 for f in result.findings if f.status == s) for s in Status}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if counts[Status.FAIL.value]:
        verdict = "[red]Problems found: fix the ✗ items above (in order).[/]"
    elif result.exit_code == 0:
        verdict = "[green]No problems found.[/]"
    else:
        verdict = "[yellow]No problem found in what could be read, but some checks could not run.[/]"
    out.print(f"\n{summary}. {verdict}")
    unreadable = unreadable_sources(result.findings)
    if unreadable:
        out.print("Not checked: " + "; ".join(escape(u) for u in unreadable) + ".")
    if not data.get("chains"):
        _nothing_here(data)


def _nothing_here(data: dict[str, Any]) -> None:
    from rich.markup import escape

    from . import console

    out = console.out()
    out.print(f"Nothing in {escape(data['scope'])} uses workload identity (no service account "
              "is annotated for it and no pod is labelled for it), so only the cluster and the "
              "webhook were checked.")
    elsewhere = data.get("elsewhere") or {}
    if elsewhere:
        listed = ", ".join(f"{ns} ({n})" for ns, n in elsewhere.items())
        first = next(iter(elsewhere))
        out.print(f"Service accounts that do: {escape(listed)}. Run "
                  f"[bold]wi doctor -n {escape(first)}[/] or [bold]wi doctor -A[/].")
