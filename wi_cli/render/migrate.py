"""`wi migrate`'s view: what pod identity does today, each workload's plan, every step and its
result, what is left to do by hand, and the next command."""

from __future__ import annotations

from typing import Any

from ..core.models import CommandResult
from .bind import RESULT

CHECKED = {"applied": "passed", "failed": "failed", "not-run": "would be checked",
           "unchanged": "unchanged"}
STATE = {"migrate": "to migrate", "manual": "manual", "done": "migrated earlier",
         "no identity": "no identity today"}


def step_result(step: dict[str, Any]) -> str:
    if step["status"] == "failed":
        return "failed"
    if step["action"] == "check":
        return CHECKED.get(step["status"], step["status"])
    if step["action"] == "note":
        return "by hand"
    return RESULT.get((step["action"], step["status"]), "unchanged")


def _state(w: dict[str, Any], mode: str) -> str:
    statuses = {s["status"] for s in w["steps"]}
    if mode == "apply" and w["state"] == "migrate":
        if "failed" in statuses:
            return "stopped (pod identity kept)"
        if statuses <= {"applied", "unchanged"}:
            return "migrated"
        return "not finished"
    return STATE.get(w["state"], w["state"])


def _identity(w: dict[str, Any]) -> str:
    ident = w.get("identity")
    if not ident:
        return "-"
    return f"{ident['azure_identity']} ({ident['client_id'] or ident['kind']})"


def show(result: CommandResult) -> None:
    """The plan as a table (lines when it would not fit), then each step on its line with its
    detail on the next, never cut (issuers, subjects and commands are copied from here)."""
    from rich.markup import escape

    from . import console
    from .bind import COLOUR
    from .human import print_whole

    data, out, err = result.data, console.out(), console.err()
    if not data["installed"]:
        out.print(escape(data["message"] or ""))
        return
    mode = data["mode"]
    pi = data["pod_identity"]
    parts = [f"{len(pi['identities'])} AzureIdentities", f"{len(pi['bindings'])} bindings",
             f"{len(pi['exceptions'])} exceptions"]
    err.print("aad-pod-identity: " + ", ".join(parts) + "; " +
              ("; ".join(pi["components"]) or "no NMI/MIC found"))
    aks = pi.get("aks")
    if aks and aks["pod_identity_addon"]:
        err.print(f"AKS cluster {escape(aks['cluster'])} runs the pod identity add-on "
                  f"({len(aks['pod_identities'])} pod identities in its profile).")
    if data["workloads"]:
        rows = []
        for w in data["workloads"]:
            sa = w["service_account"]
            changes = "; ".join(w["template_changes"] + [f"remove {r}" for r in w["removal"]])
            rows.append((f"{w['kind']} {w['namespace']}/{w['name']}", _identity(w),
                         (sa["name"] or "-") + (" (new)" if sa["new"] else ""), changes or "-",
                         _state(w, mode)))
        print_whole(f"wi migrate ({mode})", ("Workload", "Identity", "Service account",
                                              "Changes", "State"), rows)
    elif mode != "rollback":
        out.print("No workload in scope uses pod identity (no pod template carries the "
                  "aadpodidbinding label).")
    if data["steps"]:
        out.print("[bold]Steps[/]")
        width = max(len(step_result(s)) for s in data["steps"])
        for step in data["steps"]:
            said = step_result(step)
            colour = COLOUR.get(said, "red" if said == "failed" else "")
            mark = f"[{colour}]{said:<{width}}[/]" if colour else f"{said:<{width}}"
            out.print(f"  {mark}  {escape(step['object'])} [bold]{escape(step['name'])}[/]")
            if step["detail"]:
                out.print(f"  {'':<{width}}  {escape(step['detail'])}", soft_wrap=True)
            if step.get("error"):
                out.print(f"  {'':<{width}}  [red]{escape(step['error'])}[/]", soft_wrap=True)
    for w in data["workloads"]:
        for rb in w["service_account"]["old_role_bindings"]:
            err.print(f"[yellow]![/] {escape(w['kind'])} {escape(w['name'])} moves off the "
                      f"'default' service account, which {escape(rb)} grants: the new one "
                      "does not get it.")
    for exc in pi["exceptions"]:
        labels = ", ".join(f"{k}={v}" for k, v in exc["pod_labels"].items())
        err.print(f"AzurePodIdentityException {escape(exc['namespace'])}/"
                  f"{escape(exc['name'])}: pods labelled {escape(labels)} bypass NMI (they get "
                  "the node's identity); workload identity leaves them as they are.")
    for item in data["manual"]:
        err.print(f"[yellow]By hand:[/] {escape(item['what'])}: {escape(item['why'])}")
    for note in data["notes"]:
        err.print(f"[yellow]![/] {escape(note)}")
    for path in data["written"]:
        out.print(f"wrote {escape(path)}", soft_wrap=True)
    for command in data["next"]:
        out.print(f"Next: [bold]{escape(command)}[/]", soft_wrap=True)
