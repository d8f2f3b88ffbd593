"""`wi bind` / `wi unbind`'s view: the identity and issuer, then every step and its result."""

from __future__ import annotations

from ..core.models import CommandResult

RESULT = {  # (action, status) -> what the Result column says
    ("create", "applied"): "created", ("update", "applied"): "updated",
    ("delete", "applied"): "deleted", ("restart", "applied"): "restarted",
    ("create", "not-run"): "would be created", ("update", "not-run"): "would be updated",
    ("delete", "not-run"): "would be deleted", ("restart", "not-run"): "would be restarted",
}


COLOUR = {"created": "green", "updated": "green", "deleted": "yellow", "restarted": "green",
          "failed": "red", "note": "yellow"}


def result_text(step: dict) -> str:
    if step["status"] == "failed":
        return "failed"
    if step["action"] == "note":
        return "note"
    return RESULT.get((step["action"], step["status"]), "unchanged")


def show(result: CommandResult) -> None:
    """The steps of `wi bind` / `wi unbind` (what was planned, applied, left as it was)."""
    from rich.markup import escape

    from . import console

    data = result.data
    title = f"wi {result.command}" + (" (dry run)" if data.get("dry_run") else "")
    out, err = console.out(), console.err()
    ident = data["identity"]
    err.print(f"Identity [bold]{escape(ident['name'])}[/] (resource group "
              f"{escape(ident['resource_group'])}, clientId {ident['client_id']})")
    issuers = ", ".join(data["issuers"]) or "none"
    err.print(f"Issuer {escape(issuers)} (from {escape(data['issuer_source'])})")
    # one step per line, its detail (issuer → subject, scopes) on the next, never cut: these are
    # the values a user compares and copies, and a table column would fold them at 80 columns
    out.print(f"[bold]{escape(title)}[/]")
    width = max((len(result_text(step)) for step in data["steps"]), default=0)
    for step in data["steps"]:
        said = result_text(step)
        colour = COLOUR.get(said, "")
        mark = f"[{colour}]{said:<{width}}[/]" if colour else f"{said:<{width}}"
        out.print(f"  {mark}  {escape(step['object'])} [bold]{escape(step['name'])}[/]")
        if step["detail"]:
            out.print(f"  {'':<{width}}  {escape(step['detail'])}", soft_wrap=True)
        if step.get("error"):
            out.print(f"  {'':<{width}}  [red]{escape(step['error'])}[/]", soft_wrap=True)
    for note in data["notes"]:
        err.print(f"[yellow]![/] {escape(note)}")
    if data.get("next"):
        out.print(f"Next: [bold]{escape(data['next'])}[/]")
