"""The Typer app and click classes every wi command uses: plain help (cli/help.py), no rich
markup, ``-h`` as ``--help``, and the command names people bring from other tools."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, get_args, get_origin

import typer
from typer.core import TyperCommand, TyperGroup

from . import _click as click
from . import completion
from . import help as helptext

# `wi version` is not a command; say what is meant (difflib would offer 'provision')
NOT_COMMANDS = {"version": "wi --version", "help": "wi --help",
                "completion": "wi --show-completion"}
CONTEXT = {"help_option_names": ["-h", "--help"]}


# -- converting values without pydantic ------------------------------------------------------
# typer >= 0.29 converts every value through a pydantic TypeAdapter, built on first use, so
# every run imports pydantic (about 70 ms, a third of `wi doctor --list-checks`). wi's
# parameters are str, bool, float, Path and lists of str, which need none of it: where this typer
# converts that way, those parameters get a plain conversion; any other keeps typer's.
CONVERT: dict[Any, Callable[[Any], Any]] = {str: str, bool: bool, float: float, int: int,
                                           Path: Path}

RuntimeParam: Any
try:
    from typer._coercion import RuntimeParam
except ImportError:  # an older typer converts with click's types, without pydantic
    RuntimeParam = None

if RuntimeParam is not None:
    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):
        convert: Callable[[Any], Any] = str

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if param.multiple or param.nargs == -1:
                    return [self.convert(item) for item in value]
                return self.convert(value)
            except (TypeError, ValueError):
                kind = "number" if self.convert in (int, float) else "value"
                raise click.BadParameter(f"{value!r} is not a {kind}.", ctx=ctx,
                                         param=param) from None


def _converter(annotation: Any) -> Callable[[Any], Any] | None:
    if get_origin(annotation) in (list, List) and get_args(annotation) == (str,):
        return str
    return CONVERT.get(annotation)


def plain_conversion(params: list[Any]) -> None:
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if RuntimeParam is None or descriptor is None or \
                getattr(param, "_runtime_param", "absent") is not None:
            continue
        convert = _converter(descriptor.annotation)
        if convert is not None:
            param._runtime_param = PlainRuntimeParam(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                convert=convert)


class WiCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        completion.attach(self.params)
        plain_conversion(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        plain_conversion([option] if option is not None else [])
        return option

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(helptext.render(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return helptext.usage_pieces(self)


class WiGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_conversion(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        plain_conversion([option] if option is not None else [])
        return option

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(helptext.render(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return helptext.usage_pieces(self)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name in NOT_COMMANDS and name not in self.commands and ctx.parent is None:
            raise click.UsageError(f"No such command '{name}'. Did you mean "
                                   f"'{NOT_COMMANDS[name]}'?", ctx=ctx)
        return super().resolve_command(ctx, args)


class WiTyper(typer.Typer):
    """A Typer whose groups and commands are WiGroup and WiCommand unless told otherwise."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", WiGroup)
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("pretty_exceptions_enable", False)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("context_settings", dict(CONTEXT))
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        kwargs.setdefault("cls", WiCommand)
        kwargs.setdefault("context_settings", dict(CONTEXT))
        return super().command(*args, **kwargs)
