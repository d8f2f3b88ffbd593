"""`wi provision`: Create AKS with workload identity, an identity, ACR and sample targets (Terraform)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, List, Optional

import typer

from ..core.models import CommandResult
from .options import global_options, settings
from .wiring import provisioning, terraform

if TYPE_CHECKING:
    from ..adapters.terraform import Event, EventCallback
    from ..core.errors import TerraformError
    from ..core.provision import Plan

HELP = """Create everything workload identity needs with Terraform: an AKS cluster with the OIDC \
issuer and workload identity on, a user-assigned managed identity, ACR, and sample targets (Key \
Vault, Storage) the probe can show permissions on. Shows live progress, merges the kubeconfig, and \
saves the values the other commands use as defaults.

Before Terraform starts, a preflight reads from Azure what the bundled module needs: your \
permissions on the subscription (creating resources and role assignments: Owner, or Contributor \
plus User Access Administrator or Role Based Access Control Administrator), the registration of its \
resource providers, and the region. Anything missing stops the command (exit 4) with the fix, and \
nothing is created; --plan-only only reports it. The preflight does not run for --module (it knows \
the bundled module only), for --destroy, or with --skip-preflight.

The module is copied to a working directory (default: wi's state directory) that re-runs reuse, \
with the variables of the last run: re-running after a failure or Ctrl-C resumes. --destroy removes \
everything and clears the state file."""

EXAMPLES = """
# Plan, confirm, apply (AKS, identity, ACR, Key Vault, Storage)
wi provision --var prefix=demo --var location=westeurope

# Plan only: change nothing
wi provision --plan-only

# No prompt, JSON result (required without a terminal)
wi provision -y -o json

# Destroy everything and clear the state file
wi provision --destroy -y
"""

DONE = {"create": "created", "update": "updated", "delete": "destroyed", "replace": "replaced",
        "read": "read"}


# -- the display the core drives (stderr: plan, prompt, live progress) -----------------------------

class ConsoleDisplay:
    def __init__(self) -> None:
        from ..render import console

        self.console = console.err()

    def note(self, text: str) -> None:
        from rich.markup import escape

        self.console.print(f"[dim]{escape(text)}[/]")

    def failed(self, error: "TerraformError") -> None:
        """Every diagnostic of a failed terraform command in full (the error names the first)."""
        from rich.markup import escape

        from ..adapters.terraform import TerraformFailed

        for diag in error.diagnostics if isinstance(error, TerraformFailed) else ():
            target = f"{diag.address}: " if diag.address else ""
            self.console.print(f"[red]✗[/] {escape(target + diag.summary)}")
            for line in diag.detail.strip().splitlines():
                self.console.print(f"    {escape(line)}")
            if diag.filename and diag.line:
                self.console.print(f"    [dim]at {escape(diag.filename)}:{diag.line}[/]")

    def plan(self, summary: "Plan") -> None:
        from rich.markup import escape
        from rich.table import Table

        for warning in summary.warnings:
            self.console.print(f"[yellow]Warning:[/] {escape(warning.describe())}")
        if not summary.has_changes:
            self.console.print("No changes: the infrastructure matches the configuration.")
            return
        table = Table(title=plan_headline(summary), title_justify="left")
        table.add_column("Resource")
        table.add_column("Action")
        for change in summary.changes:
            table.add_row(escape(change.address), _action_markup(change.action))
        self.console.print(table)

    def confirm(self, summary: "Plan") -> bool:
        verb = "Destroy" if summary.destroy else "Apply"
        return typer.confirm(f"{verb} these changes?", default=False, err=True)

    @contextmanager
    def applying(self, summary: "Plan") -> Iterator["EventCallback"]:
        view = ApplyView(self.console, summary)
        try:
            with view.live:
                yield view.on_event
        finally:
            if not self.console.is_terminal:
                self.console.line()  # a file gets the final frame without a line end


def plan_headline(summary: "Plan") -> str:
    return (f"Terraform plan: {summary.add} to add, {summary.change} to change, "
            f"{summary.remove} to destroy")


def _action_markup(action: str) -> str:
    colour = {"create": "green", "delete": "red", "update": "yellow"}.get(action, "magenta")
    return f"[{colour}]{action}[/]"


class ApplyView:
    """One row per resource (action, elapsed time, result) above an overall bar."""

    def __init__(self, console: Any, summary: "Plan") -> None:
        from rich.console import Group
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
            TimeElapsedColumn

        self.rows = Progress(TextColumn("{task.fields[mark]}"), TextColumn("{task.description}"),
                             TextColumn("{task.fields[action]}"), TimeElapsedColumn(),
                             TextColumn("{task.fields[result]}"), console=console)
        self.total = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                              MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        self.overall = self.total.add_task("Destroying" if summary.destroy else "Applying",
                                           total=max(summary.total, 1))
        self.tasks: dict[str, Any] = {}
        self.live = Live(Group(self.rows, self.total), console=console, refresh_per_second=4)

    def on_event(self, event: "Event") -> None:
        from ..adapters.terraform import ApplyComplete, ApplyErrored, ApplyStart

        if isinstance(event, ApplyStart):
            self._start(event.address, event.action)
        elif isinstance(event, ApplyComplete):
            self._finish(event.address, "[green]✓[/]", DONE.get(event.action, event.action))
        elif isinstance(event, ApplyErrored):
            self._finish(event.address, "[red]✗[/]", "[red]failed[/]")

    def _start(self, address: str, action: str) -> None:
        from rich.markup import escape

        self.tasks[address] = self.rows.add_task(escape(address), total=1, mark="[cyan]…[/]",
                                                 action=_action_markup(action), result="")

    def _finish(self, address: str, mark: str, result: str) -> None:
        if address not in self.tasks:
            self._start(address, "")
        self.rows.update(self.tasks[address], completed=1, mark=mark, result=result)
        self.rows.stop_task(self.tasks[address])
        self.total.advance(self.overall)


# -- the result views (stdout) ----------------------------------------------------------------------

# -- the command ---------------------------------------------------------------------------------------

@global_options
def provision(
    ctx: typer.Context,
    var: List[str] = typer.Option([], "--var", metavar="NAME=VALUE",
                                  help="Set a Terraform variable (repeatable)."),
    var_file: List[str] = typer.Option([], "--var-file", metavar="FILE",
                                       help="A .tfvars file (repeatable)."),
    workdir: Optional[str] = typer.Option(None, "--workdir", metavar="DIR",
                                          help="Terraform working directory (default: "
                                               "terraform/ in wi's state directory, reused "
                                               "on re-runs)."),
    module: Optional[str] = typer.Option(None, "--module", metavar="DIR",
                                         help="Apply another root module with the same outputs "
                                              "(default: the module bundled with wi)."),
    plan_only: bool = typer.Option(False, "--plan-only", help="Show the plan; change nothing."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Apply without asking."),
    destroy: bool = typer.Option(False, "--destroy",
                                 help="Destroy what wi provision created and clear the state file."),
    skip_preflight: bool = typer.Option(False, "--skip-preflight",
                                        help="Do not check permissions, resource providers and "
                                             "region before Terraform runs."),
) -> CommandResult:
    from ..adapters.kube.kubeconfig import default_path
    from ..core import provision as core
    from ..core.config import state_path
    from ..core.provision_inputs import check_module, check_var_files, parse_vars, require_consent

    variables = parse_vars(var)
    var_files = check_var_files(var_file)
    module_dir = check_module(module)
    s = settings(ctx)
    require_consent(yes, plan_only, s.environment.interactive, s.json)
    workdir_path = Path(workdir).expanduser().resolve() if workdir else \
        s.state_dir / "terraform"
    req = core.ProvisionRequest(variables, var_files, workdir_path, module_dir, plan_only, yes,
                                skip_preflight)
    target = core.Target(s.cloud, s.subscription, s.tenant, default_path(s.kubeconfig_path),
                         state_path(s.env), s.env)
    if destroy:
        gone = core.destroy(req, target, ConsoleDisplay(), terraform(s))
        return CommandResult("provision", gone.to_json(), view="provision.destroy")
    outcome = core.provision(req, target, ConsoleDisplay(), terraform(s), *provisioning(s))
    return CommandResult("provision", outcome.to_json())


def register(app: typer.Typer) -> None:
    app.command(
        "provision", help=HELP, epilog=EXAMPLES,
        short_help="Create AKS with workload identity, an identity, ACR and sample targets "
                   "(Terraform).",
    )(provision)
