"""The Typer app and click classes every wi command uses: plain help (cli/help.py), no rich
markup, ``-h`` as ``--help``, and the command names people bring from other tools."""

from __future__ import annotations

from typing import Any, Callable

import typer
from typer.core import TyperCommand, TyperGroup

from . import _click as click
from . import completion
from . import help as helptext

# `wi version` is not a command; say what is meant (difflib would offer 'provision')
NOT_COMMANDS = {"version": "wi --version", "help": "wi --help",
                "completion": "wi --show-completion"}
CONTEXT = {"help_option_names": ["-h", "--help"]}


class WiCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        completion.attach(self.params)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(helptext.render(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return helptext.usage_pieces(self)


class WiGroup(TyperGroup):
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
