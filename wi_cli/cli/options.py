"""The global options, declared once and accepted before or after any subcommand.

``wi -o json doctor`` and ``wi doctor -o json`` mean the same: the root callback and every
command decorated with :func:`global_options` record what they were given in one
:class:`GlobalFlags` on the root context; a value given after the subcommand wins.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import typer

from ..core.config import GLOBAL_OPTIONS, OUTPUT_FORMATS, Environment, Settings, resolve
from ..core.errors import UsageError

PANEL = "Global options"


def _check_output(value: str | None) -> str | None:
    """An unknown -o is a usage error (2), found while parsing: nothing runs first."""
    if value is not None and value.lower() not in OUTPUT_FORMATS:
        raise UsageError(f"Output format must be table, json or junit, got {value!r}.",
                         ["Use -o table or -o json (or -o junit with 'wi doctor')."])
    return value


def _declarations() -> dict[str, tuple[Any, Any]]:
    """option name -> (annotation, typer.Option) — fresh objects for every use."""
    return {
        "output": (Optional[str], typer.Option(
            None, "-o", "--output", metavar="table|json|junit", rich_help_panel=PANEL,
            callback=_check_output,
            help="Output format: a human view (table), the wi/v1 JSON envelope (json), or a "
                 "JUnit XML report (junit: wi doctor only). [env: WI_OUTPUT]")),
        "cloud": (Optional[str], typer.Option(
            None, "--cloud", metavar="NAME|URL", rich_help_panel=PANEL,
            help="AzureCloud (default), AzureChinaCloud, AzureUSGovernment, or the https URL "
                 "of an ARM metadata endpoint. [env: WI_CLOUD, ARM_CLOUD_METADATA_URL]")),
        "subscription": (Optional[str], typer.Option(
            None, "--subscription", metavar="ID", rich_help_panel=PANEL,
            help="Azure subscription id. [env: AZURE_SUBSCRIPTION_ID]")),
        "kubeconfig": (Optional[str], typer.Option(
            None, "--kubeconfig", metavar="PATH", rich_help_panel=PANEL,
            help="Kubeconfig file. [env: KUBECONFIG]")),
        "context": (Optional[str], typer.Option(
            None, "--context", metavar="NAME", rich_help_panel=PANEL,
            help="Kubeconfig context (default: the current context).")),
        "debug": (bool, typer.Option(
            False, "--debug", rich_help_panel=PANEL,
            help="Show tracebacks and diagnostic detail on errors.")),
    }


@dataclass
class GlobalFlags:
    """The global options given on the command line, the environment the process started with,
    and the settings resolved from both (once)."""

    environment: Environment = field(default_factory=Environment.current)
    values: dict[str, Any] = field(default_factory=dict)
    resolved: Settings | None = None

    def merge(self, given: dict[str, Any]) -> None:
        for name, value in given.items():
            if value not in (None, False):
                self.values[name] = value
                self.resolved = None


def flags_of(ctx: typer.Context) -> GlobalFlags:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalFlags):
        root.obj = GlobalFlags()
    return root.obj


def settings(ctx: typer.Context) -> Settings:
    """This invocation's settings (flags > env > ./.wi.toml > ~/.wi.toml > state > defaults),
    resolved once."""
    flags = flags_of(ctx)
    if flags.resolved is None:
        flags.resolved = resolve(flags.values, flags.environment)
    return flags.resolved


def root_parameters() -> list[inspect.Parameter]:
    return [
        inspect.Parameter(f"g_{name}", inspect.Parameter.KEYWORD_ONLY, default=opt,
                          annotation=annotation)
        for name, (annotation, opt) in _declarations().items()
    ]


def collect(ctx: typer.Context, kwargs: dict[str, Any]) -> None:
    """Move the global options out of ``kwargs`` into the root context."""
    given = {name: kwargs.pop(f"g_{name}") for name in GLOBAL_OPTIONS if f"g_{name}" in kwargs}
    flags_of(ctx).merge(given)


def global_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let a command accept the global options too, and pass it a ``ctx`` if it wants one."""
    sig = inspect.signature(fn)
    wants_ctx = "ctx" in sig.parameters

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs["ctx"] if wants_ctx else kwargs.pop("ctx")
        collect(ctx, kwargs)
        return fn(*args, **kwargs)

    params = list(sig.parameters.values())
    if not wants_ctx:
        params.append(inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY,
                                        annotation=typer.Context))
    wrapper.__signature__ = sig.replace(parameters=params + root_parameters())  # type: ignore[attr-defined]
    return wrapper
