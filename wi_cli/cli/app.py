"""The root of the CLI: global options, the subcommands, and the one error boundary (main)."""

from __future__ import annotations

import inspect
import sys
from typing import Any, Sequence

import typer

from .. import __version__
from ..core.config import Environment, output_of
from ..core.errors import ExitCode, Interrupted, UsageError, WiError
from ..core.models import CommandResult
from . import _click as click
from . import bind, demo, doctor, lab, migrate, probe, provision
from .options import GlobalFlags, collect, root_parameters

HELP = (
    "Set up and diagnose Microsoft Entra Workload Identity on Kubernetes (AKS).\n\n"
    "Workload identity lets a pod call Azure with no secret: the cluster issues a service-account "
    "token, Entra trusts the cluster's OIDC issuer through a federated identity credential on a "
    "managed identity, and the pod trades its token for an Entra access token.\n\n"
    "Typical flow: [bold]wi provision[/] (AKS with OIDC issuer and workload identity, an "
    "identity, ACR) → [bold]wi bind SA IDENTITY -n NS[/] (trust the service account) → "
    "[bold]wi doctor -n NS[/] (check every layer, print the fix) → [bold]wi probe -n NS "
    "--service-account SA[/] (what a pod really gets). [bold]wi demo[/] runs it all on a local "
    "lab with no Azure account."
)

app = typer.Typer(
    name="wi", help=HELP, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wi {__version__}")
        raise typer.Exit()


def _root(ctx: typer.Context, **kwargs: Any) -> None:
    collect(ctx, kwargs)


_root.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
     inspect.Parameter("version", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                       default=typer.Option(False, "--version", callback=_version,
                                            is_eager=True, help="Show the version and exit.")),
     *root_parameters()]
)
app.callback()(_root)

for module in (provision, bind, doctor, probe, demo, migrate):
    module.register(app)
app.add_typer(lab.app, name="lab")


# -- the error boundary -------------------------------------------------------------------------

def _scan_output(argv: Sequence[str]) -> str | None:
    for i, tok in enumerate(argv):
        if tok == "--":
            break
        if tok in ("-o", "--output") and i + 1 < len(argv):
            return argv[i + 1]
        if tok.startswith("--output="):
            return tok.split("=", 1)[1]
        if tok.startswith("-o") and len(tok) > 2 and not tok.startswith("--"):
            return tok[2:]
    return None


def detect_output(argv: Sequence[str], environment: Environment) -> str:
    """The output mode, found without a full parse and by the same precedence as the settings
    (so usage errors and failures honour -o json, WI_OUTPUT and .wi.toml too)."""
    try:
        value = output_of(_scan_output(argv), environment)
    except WiError:
        value = "table"
    return "json" if value == "json" else "table"


VALUE_OPTIONS = {"-o", "--output", "--cloud", "--subscription", "--kubeconfig", "--context"}


def _command_name(argv: Sequence[str]) -> str:
    root = typer.main.get_command(app)
    words: list[str] = []
    group: Any = root
    skip_next = False
    for tok in argv:
        if skip_next:
            skip_next = False
            continue
        if tok.startswith("-"):
            skip_next = tok in VALUE_OPTIONS
            continue
        sub = getattr(group, "commands", {}).get(tok)
        if sub is None:
            break
        words.append(tok)
        group = sub
    return " ".join(words) or "wi"


def _debug(argv: Sequence[str], environment: Environment) -> bool:
    return "--debug" in argv or \
        environment.env.get("WI_DEBUG", "").lower() in ("1", "true", "yes")


def _render_result(result: CommandResult, output: str) -> int:
    from ..render import jsonout, views

    if output == "json":
        jsonout.print_result(result)
    else:
        views.show(result)
    return int(result.exit_code)


def _render_error(error: WiError, argv: Sequence[str], output: str) -> int:
    from ..render import human, jsonout

    if output == "json":
        jsonout.print_error(_command_name(argv), error)
    else:
        human.print_error(error)
    return int(error.exit_code)


def _quiet_sdk_logs(debug: bool) -> None:
    """The SDKs log their own long diagnostics (azure-identity's credential chain, MSAL, urllib3
    retries) on stderr; wi's one-sentence error says what matters, and --debug shows the rest."""
    import logging

    for name in ("azure", "msal", "kubernetes", "urllib3"):
        logger = logging.getLogger(name)
        if debug:
            logger.propagate = True
        else:
            if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
                logger.addHandler(logging.NullHandler())
            logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    environment = Environment.current()
    debug = _debug(args, environment)
    _quiet_sdk_logs(debug)
    output = detect_output(args, environment)
    command = typer.main.get_command(app)
    try:
        from .defaults import default_map

        rv = command.main(args=args, prog_name="wi", standalone_mode=False,
                          obj=GlobalFlags(environment),
                          default_map=default_map(command, environment))
    except click.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else "")
        return int(ExitCode.OK)
    except click.UsageError as exc:
        hint = f"Run 'wi {_command_name(args)} --help' for usage." if _command_name(args) != "wi" \
            else "Run 'wi --help' for usage."
        return _render_error(UsageError(exc.format_message(), [hint]), args, output)
    except (typer.Abort, KeyboardInterrupt):
        return _render_error(Interrupted("Interrupted."), args, output)
    except WiError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        return _render_error(exc, args, output)
    except click.ClickException as exc:
        return _render_error(UsageError(exc.format_message()), args, output)
    except Exception as exc:  # noqa: BLE001 - the boundary: one line, never a traceback
        if debug:
            import traceback

            traceback.print_exc()
        internal = WiError(f"Internal error: {type(exc).__name__}: {exc}",
                           ["This is a bug in wi. Re-run with --debug for the traceback and "
                            "report it."])
        return _render_error(internal, args, output)
    if isinstance(rv, CommandResult):
        return _render_result(rv, output)
    if rv == ExitCode.INTERRUPTED:  # Typer turns Ctrl-C into Exit(130), which lands here
        return _render_error(Interrupted("Interrupted."), args, output)
    return int(rv or 0)
