"""The root of the CLI: global options, the subcommands, and the one error boundary (main)."""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any, Optional, Sequence

import typer

from .. import __version__
from ..core.config import OUTPUT_FORMATS, REPORT_FORMATS, Environment, output_of
from ..core.errors import ExitCode, Interrupted, UsageError, WiError
from . import _click as click
from . import help as helptext
from . import bind, completion, demo, doctor, lab, migrate, probe, provision
from .base import WiTyper
from .options import GlobalFlags, collect, root_parameters

HELP = (
    "Set up and diagnose Microsoft Entra Workload Identity on Kubernetes (AKS).\n\n"
    "Workload identity lets a pod call Azure with no secret: the cluster issues a service-account "
    "token, Entra trusts the cluster's OIDC issuer through a federated identity credential on a "
    "managed identity, and the pod trades its token for an Entra access token.\n\n"
    "Typical flow: wi provision (AKS with OIDC issuer and workload identity, an identity, ACR) "
    "-> wi bind SA IDENTITY -n NS (trust the service account) -> wi doctor -n NS (check every "
    "layer, print the fix) -> wi probe -n NS --service-account SA (what a pod really gets). "
    "wi demo runs it all on a local lab with no Azure account.\n\n"
    "Exit codes: 0 ok, 1 problems found, 2 usage, 3 configuration, credentials or a named object "
    "missing, 4 Azure/Kubernetes/Terraform refused or unreachable, 5 conflict, 70 internal, "
    "130 interrupted."
)
EXAMPLES = """
# Try everything on a local lab, no Azure account needed
wi demo

# Check every layer for the service accounts of namespace demo
wi doctor -n demo

# Bash completion for this shell session
source <(wi --show-completion bash)
"""

app = WiTyper(name="wi", help=HELP, epilog=EXAMPLES, no_args_is_help=True)


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
     inspect.Parameter("show_completion", inspect.Parameter.KEYWORD_ONLY,
                       annotation=Optional[str],
                       default=typer.Option(None, "--show-completion", metavar="[SHELL]",
                                            callback=completion.show, is_eager=True,
                                            autocompletion=completion.shells,
                                            expose_value=False,
                                            help="Print the completion script for SHELL (bash, "
                                                 "zsh, fish, powershell; default: this shell) "
                                                 "and exit.")),
     inspect.Parameter("install_completion", inspect.Parameter.KEYWORD_ONLY,
                       annotation=Optional[str],
                       default=typer.Option(None, "--install-completion", metavar="[SHELL]",
                                            callback=completion.install, is_eager=True,
                                            autocompletion=completion.shells,
                                            expose_value=False,
                                            help="Add completion to the start-up file of SHELL "
                                                 "(default: this shell) and exit.")),
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
    return value if value in OUTPUT_FORMATS else "table"


def _report_format(argv: Sequence[str], output: str) -> str:
    """A report format (junit) asked of a command that does not write it: a usage error on the
    command line; from WI_OUTPUT or .wi.toml, the table, with a note on stderr."""
    command = _command_name(argv)
    owner = REPORT_FORMATS.get(output)
    if owner is None or command in (owner, "wi"):
        return output
    if _scan_output(argv) is not None:
        raise UsageError(f"-o {output} is for 'wi {owner}' only.",
                         ["Use -o table or -o json with this command."])
    sys.stderr.write(f"Note: {output} output is for 'wi {owner}' only; showing the table.\n")
    return "table"


@functools.lru_cache(maxsize=None)
def root_command() -> Any:
    """The click command tree typer builds from the app (once: it inspects every signature)."""
    return typer.main.get_command(app)


def _option(cmd: Any, ctx: Any, tok: str) -> tuple[Any, bool] | None:
    """The option ``tok`` names on ``cmd`` and whether it carries its value in the token
    (``--output=json``, ``-ojson``); None when ``cmd`` has no such option."""
    name = tok.split("=", 1)[0]
    for param in cmd.get_params(ctx):
        if helptext.is_option(param):
            names = [*param.opts, *param.secondary_opts]
            if name in names:
                return param, "=" in tok
            short = tok[:2]
            if not tok.startswith("--") and short in names and len(tok) > 2:
                return param, True
    return None


def _takes_value(param: Any) -> bool:
    return not (param.is_flag or getattr(param, "count", False))


def _walk(argv: Sequence[str]) -> tuple[Any, bool, bool] | None:
    """Follow ``argv`` through the command tree without parsing it (no value is converted, so
    nothing heavy is imported): the context reached, whether -h/--help was given, and whether an
    eager option (--version, --show-completion) was. None when argv names an unknown command or
    option: the parser says what is wrong."""
    cmd: Any = root_command()
    ctx = click.Context(cmd, info_name="wi", **cmd.context_settings)
    wants_help = eager = False
    i = 0
    while i < len(argv):
        tok = argv[i]
        i += 1
        if tok == "--":
            break
        if tok in ("-h", "--help"):
            wants_help = True
        elif tok.startswith("-") and tok != "-":
            found = _option(cmd, ctx, tok)
            if found is None:
                return None
            param, inline = found
            eager = eager or param.is_eager
            if _takes_value(param) and not inline:
                i += 1
        elif getattr(cmd, "commands", None) is not None:
            if tok not in cmd.commands:
                return None
            cmd = cmd.commands[tok]
            ctx = click.Context(cmd, info_name=tok, parent=ctx, **cmd.context_settings)
    return ctx, wants_help, eager


def _command_name(argv: Sequence[str]) -> str:
    """The command path argv names ('wi', 'wi lab up'), for JSON envelopes and hints."""
    words: list[str] = []
    cmd: Any = root_command()
    ctx = click.Context(cmd, info_name="wi")
    skip = False
    for tok in argv:
        if skip:
            skip = False
            continue
        if tok == "--":
            break
        if tok.startswith("-"):
            found = _option(cmd, ctx, tok)
            skip = bool(found and _takes_value(found[0]) and not found[1])
            continue
        sub = (getattr(cmd, "commands", None) or {}).get(tok)
        if sub is None:
            break
        words.append(tok)
        cmd = sub
        ctx = click.Context(cmd, info_name=tok, parent=ctx)
    return " ".join(words) or "wi"


def _help_or_missing_command(argv: Sequence[str], output: str) -> int | None:
    """``--help`` anywhere, or a group without its command (``wi``, ``wi lab``): the help,
    printed once, before anything is parsed. With -o json a missing command is a usage error."""
    walked = _walk(argv)
    if walked is None:
        return None
    ctx, wants_help, eager = walked
    if wants_help:
        typer.echo(helptext.render(ctx), nl=False)
        return int(ExitCode.OK)
    group = getattr(ctx.command, "commands", None)
    if group is None or eager:
        return None
    if output == "json":
        return _render_error(UsageError(f"'{ctx.command_path}' needs a command: "
                                        f"{', '.join(group)}.",
                                        [f"Run '{ctx.command_path} --help' for usage."]),
                             argv, output)
    typer.echo(helptext.render(ctx), nl=False)
    return int(ExitCode.OK)


def _debug(argv: Sequence[str], environment: Environment) -> bool:
    return "--debug" in argv or \
        environment.env.get("WI_DEBUG", "").lower() in ("1", "true", "yes")


def _render_result(result: Any, output: str) -> int:
    from ..render import jsonout, report, views

    report_file = result.view_options.get("report_file")
    if report_file:  # the report goes to the file; the person gets the human view
        views.show(result)
        try:
            report.write(report_file["path"], report.of_result(result, report_file["format"]))
        except WiError as exc:
            return _render_error(exc, [result.command], "table")
    elif output == "json":
        jsonout.print_result(result)
    elif output == "junit" and result.view != "doctor.checks":
        sys.stdout.write(report.of_result(result, "junit"))
    else:
        views.show(result)
    return int(result.exit_code)


def _render_error(error: WiError, argv: Sequence[str], output: str) -> int:
    from ..render import human, jsonout, report

    if output == "json":
        jsonout.print_error(_command_name(argv), error)
    else:
        if output == "junit" and _command_name(argv) == REPORT_FORMATS["junit"]:
            sys.stdout.write(report.of_error(error, "junit", _command_name(argv)))
        human.print_error(error)
    return int(error.exit_code)


def _quiet_sdk_logs(debug: bool) -> None:
    """The SDKs log their own long diagnostics (azure-identity's credential chain, MSAL, urllib3
    retries; the kubernetes client's exec-plugin failures through the root logger, which
    ``logging.error`` would configure to print ``ERROR:root:...``) on stderr; wi's one-sentence
    error says what matters, and --debug shows the rest."""
    import logging

    for name in ("azure", "msal", "kubernetes", "urllib3", ""):
        logger = logging.getLogger(name)
        if debug:
            logger.propagate = True
            continue
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
        if name:
            logger.propagate = False


def _skip_exit_collection() -> None:
    """At exit, move every object out of the garbage collector's reach (gc.freeze): the
    interpreter's last collections over the SDKs' ~70,000 objects cost `wi bind` about a tenth
    of its run (bench/README.md). Every atexit handler still runs (logging, the kubernetes
    client's temporary files); the memory goes back to the OS with the process."""
    import atexit
    import gc

    atexit.register(gc.freeze)  # after every handler the SDKs register later (LIFO)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the program itself (`wi`, `python -m wi_cli`), not an in-process caller
        _skip_exit_collection()
    args = list(sys.argv[1:] if argv is None else argv)
    environment = Environment.current()
    output = detect_output(args, environment)
    command = root_command()
    if completion.requested(environment.env):
        completion.prepare()  # typer's protocol: the shell passes the words in the environment
    else:
        early = _help_or_missing_command(args, output)
        if early is not None:
            return early
        args = completion.with_shell(args)
        try:
            output = _report_format(args, output)
        except UsageError as exc:
            return _render_error(exc, args, "table")
    debug = _debug(args, environment)
    _quiet_sdk_logs(debug)
    try:
        from .defaults import default_map

        rv = command.main(args=args, prog_name="wi", standalone_mode=False,
                          obj=GlobalFlags(environment),
                          default_map=default_map(command, environment))
    except click.NoArgsIsHelpError as exc:  # reached only through options the walk missed
        typer.echo(helptext.render(exc.ctx) if exc.ctx else "", nl=False)
        return int(ExitCode.OK)
    except click.UsageError as exc:
        name = _command_name(args)
        hint = f"Run 'wi {name} --help' for usage." if name != "wi" else \
            "Run 'wi --help' for usage."
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
    from ..core.models import CommandResult

    if isinstance(rv, CommandResult):
        return _render_result(rv, output)
    if rv == ExitCode.INTERRUPTED:  # Typer turns Ctrl-C into Exit(130), which lands here
        return _render_error(Interrupted("Interrupted."), args, output)
    return int(rv or 0)
