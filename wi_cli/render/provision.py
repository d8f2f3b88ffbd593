"""`wi provision`'s views: what was applied (or destroyed), where the state and kubeconfig went,
and the next commands."""

from __future__ import annotations

from typing import Any

from ..core.models import CommandResult


def plan_headline_json(plan: dict[str, Any]) -> str:
    return f"{plan['add']} to add, {plan['change']} to change, {plan['destroy']} to destroy"


def show(result: CommandResult) -> None:
    from rich.markup import escape

    from . import console, human

    data, out = result.data, console.out()
    if data["plan_only"]:
        out.print(f"Plan only: nothing was applied ({plan_headline_json(data['plan'])}).")
        return
    human.key_value_table("wi provision", data["outputs"])
    out.print(f"State saved to {escape(data['state_path'])}")
    if data["kube_context"]:
        out.print(f"Kubeconfig context [bold]{escape(data['kube_context'])}[/] in "
                  f"{escape(data['kubeconfig'])}")
    out.print("Next:")
    for command in data["next"]:
        out.print(f"  [bold]{escape(command)}[/]")


def show_destroy(result: CommandResult) -> None:
    from rich.markup import escape

    from . import console

    data, out = result.data, console.out()
    if data["plan_only"]:
        out.print(f"Plan only: nothing was destroyed ({plan_headline_json(data['plan'])}).")
        return
    out.print(f"Destroyed {data['plan']['destroy']} resource(s).")
    if data["state_cleared"]:
        out.print(f"State file {escape(data['state_cleared'])} removed.")
    for command in data["next"]:
        out.print(f"Next: [bold]{escape(command)}[/]")
