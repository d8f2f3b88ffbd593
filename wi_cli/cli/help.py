"""Plain help text, like kubectl's and click's: usage, description, arguments, options (by
panel), commands and copy-pasteable examples.

Typer's rich help imports rich's markdown, traceback and pretty modules (about 100 ms) and
prints type names (``<str>``) as metavars; this writer needs only the click objects typer
builds. Long values (an image, a URL) are never broken: a line may run long instead.
"""

from __future__ import annotations

import shutil
import textwrap
from typing import Any


INDENT = 2
MAX_WIDTH = 100
TERM_COLUMN = 30  # a longer option name puts its help on the next line
GLOBAL_PANEL = "Global options"


def width() -> int:
    """The terminal width (COLUMNS honoured, 80 when not a terminal), at most MAX_WIDTH."""
    return max(min(shutil.get_terminal_size().columns, MAX_WIDTH) - 1, 50)


def _wrap(text: str, columns: int, indent: int) -> list[str]:
    """Paragraphs (separated by blank lines) re-flowed; words are never split."""
    lines: list[str] = []
    for paragraph in textwrap.dedent(text).strip().split("\n\n"):
        if lines:
            lines.append("")
        lines += textwrap.wrap(" ".join(paragraph.split()), max(columns - indent, 20),
                               initial_indent=" " * indent, subsequent_indent=" " * indent,
                               break_long_words=False, break_on_hyphens=False)
    return lines


def _definitions(rows: list[tuple[str, str]], columns: int) -> list[str]:
    """Two columns: the term, then its text wrapped beside it (or below, for a long term)."""
    if not rows:
        return []
    first = min(max(len(term) for term, _ in rows), TERM_COLUMN)
    text_at = INDENT + first + 2
    lines: list[str] = []
    for term, text in rows:
        body = textwrap.wrap(" ".join(text.split()), max(columns - text_at, 20),
                             break_long_words=False, break_on_hyphens=False) or [""]
        head = " " * INDENT + term
        if len(term) > first:
            lines.append(head)
        else:
            lines.append(head.ljust(text_at) + body.pop(0))
        lines += [" " * _indent_for(line, text_at, columns) + line for line in body if line]
    return [line.rstrip() for line in lines]


def _indent_for(line: str, text_at: int, columns: int) -> int:
    """A value too long for the text column (an image, a URL) moves left to stay whole and
    inside the width."""
    return text_at if text_at + len(line) <= columns else max(INDENT * 2, columns - len(line))


def is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def metavar(param: Any) -> str:
    """The placeholder shown for a value: the declared one, else the upper-cased name (a flag
    has none)."""
    if is_option(param) and (param.is_flag or getattr(param, "count", False)):
        return ""
    return param.metavar or (param.name or "VALUE").upper()


def usage_pieces(cmd: Any) -> list[str]:
    pieces = ["[OPTIONS]"]
    for param in cmd.params:
        if is_argument(param):
            name = metavar(param) + ("..." if param.nargs == -1 else "")
            pieces.append(name if param.required else f"[{name}]")
    if getattr(cmd, "commands", None) is not None:
        pieces.append("COMMAND [ARGS]...")
    return pieces


def _option_row(param: Any, ctx: Any) -> tuple[str, str]:
    names = ", ".join(sorted(param.opts, key=lambda o: (o.startswith("--"), o))
                      + list(param.secondary_opts))
    mv = metavar(param)
    term = f"{names} {mv}" if mv else names
    extra = []
    default = param.default
    if not param.is_flag and not param.multiple and not callable(default) and \
            isinstance(default, (str, int, float)) and default != "":
        extra.append(f"[default: {default:g}]" if isinstance(default, float)
                     else f"[default: {default}]")
    if param.required:
        extra.append("[required]")
    return term, " ".join([param.help or "", *extra]).strip()


def _sections(ctx: Any, cmd: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    arguments = [(metavar(p), getattr(p, "help", None) or "") for p in cmd.params
                 if is_argument(p)]
    panels: dict[str, list[tuple[str, str]]] = {"Options": []}
    for param in cmd.get_params(ctx):
        if is_option(param) and not param.hidden:
            panel = getattr(param, "rich_help_panel", None) or "Options"
            panels.setdefault(panel, []).append(_option_row(param, ctx))
    ordered = sorted(panels.items(), key=lambda kv: kv[0] == GLOBAL_PANEL)
    sections = [("Arguments", arguments)] if any(text for _, text in arguments) else []
    return sections + ordered


def _commands(ctx: Any, group: Any) -> list[tuple[str, str]]:
    rows = []
    for name, sub in group.commands.items():
        if not sub.hidden:
            rows.append((name, sub.short_help or (sub.help or "").split("\n\n")[0]))
    return rows


def examples(text: str | None) -> list[str]:
    """The epilog: examples kept exactly as written (comments and commands), indented."""
    if not text:
        return []
    return [(" " * INDENT + line).rstrip() for line in textwrap.dedent(text).strip("\n")
            .splitlines()]


def render(ctx: Any) -> str:
    """The help of ``ctx.command`` as plain text, ``columns`` wide."""
    cmd, columns = ctx.command, width()
    out = [f"Usage: {ctx.command_path} {' '.join(usage_pieces(cmd))}".rstrip(), ""]
    if cmd.help:
        out += _wrap(cmd.help, columns, INDENT) + [""]
    for title, rows in _sections(ctx, cmd):
        if rows:
            out += [f"{title}:", *_definitions(rows, columns), ""]
    if getattr(cmd, "commands", None):
        out += ["Commands:", *_definitions(_commands(ctx, cmd), columns), ""]
    if cmd.epilog:
        out += ["Examples:", *examples(cmd.epilog), ""]
    return "\n".join(out).rstrip() + "\n"
