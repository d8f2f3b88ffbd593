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
    from rich.markup import escape
    from rich.table import Table

    from . import console

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
        table = Table(title=f"wi migrate ({mode})", title_justify="left")
        for col in ("Workload", "Identity", "Service account", "Changes", "State"):
            table.add_column(col, overflow="fold")
        for w in data["workloads"]:
            sa = w["service_account"]
            account = (sa["name"] or "-") + (" (new)" if sa["new"] else "")
            changes = "; ".join(w["template_changes"] + [f"remove {r}" for r in w["removal"]])
            table.add_row(f"{w['kind']} {escape(w['namespace'])}/{escape(w['name'])}",
                          escape(_identity(w)), escape(account), escape(changes or "-"),
                          _state(w, mode))
        out.print(table)
    if data["steps"]:
        steps = Table(title="Steps", title_justify="left")
        for col in ("Object", "Name", "Result", "Detail"):
            steps.add_column(col, overflow="fold")
        for s in data["steps"]:
            detail = s["detail"] + (f" — {s['error']}" if s.get("error") else "")
            steps.add_row(s["object"], escape(s["name"]), step_result(s), escape(detail))
        out.print(steps)
    elif mode != "rollback" and not data["workloads"]:
        out.print("No workload in scope uses pod identity (no pod template carries the "
                  "aadpodidbinding label).")
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
        out.print(f"wrote {escape(path)}")
    for command in data["next"]:
        out.print(f"Next: [bold]{escape(command)}[/]")
