"""`wi bind` / `wi unbind`'s view: the identity and issuer, then every step and its result."""

from __future__ import annotations

from ..core.models import CommandResult

RESULT = {  # (action, status) -> what the Result column says
    ("create", "applied"): "created", ("update", "applied"): "updated",
    ("delete", "applied"): "deleted", ("restart", "applied"): "restarted",
    ("create", "not-run"): "would be created", ("update", "not-run"): "would be updated",
    ("delete", "not-run"): "would be deleted", ("restart", "not-run"): "would be restarted",
}


def result_text(step: dict) -> str:
    if step["status"] == "failed":
        return "failed"
    if step["action"] == "note":
        return "note"
    return RESULT.get((step["action"], step["status"]), "unchanged")


def show(result: CommandResult) -> None:
    """The steps of `wi bind` / `wi unbind` (what was planned, applied, left as it was)."""
    from rich.markup import escape
    from rich.table import Table

    from . import console

    data = result.data
    title = f"wi {result.command}" + (" (dry run)" if data.get("dry_run") else "")
    out, err = console.out(), console.err()
    ident = data["identity"]
    err.print(f"Identity [bold]{escape(ident['name'])}[/] (resource group "
              f"{escape(ident['resource_group'])}, clientId {ident['client_id']})")
    issuers = ", ".join(data["issuers"]) or "none"
    err.print(f"Issuer {escape(issuers)} (from {escape(data['issuer_source'])})")
    table = Table(title=title, title_justify="left")
    for col in ("Object", "Name", "Result", "Detail"):
        table.add_column(col, overflow="fold")
    for step in data["steps"]:
        table.add_row(step["object"], escape(step["name"]), result_text(step),
                      escape(step["detail"]))
    out.print(table)
    for note in data["notes"]:
        err.print(f"[yellow]![/] {escape(note)}")
    if data.get("next"):
        out.print(f"Next: [bold]{escape(data['next'])}[/]")
