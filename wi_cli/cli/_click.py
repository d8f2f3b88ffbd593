"""The click pieces wi needs (errors, contexts), wherever this typer keeps them.

Newer typer releases vendor a trimmed click as ``typer._click``; older ones depend on ``click``
itself. Parameters are told apart by ``param_type_name`` ("argument"/"option"), which both have.
"""

from __future__ import annotations

try:
    from typer._click.core import Context
    from typer._click.exceptions import (BadParameter, ClickException, NoArgsIsHelpError,
                                         UsageError)
except ImportError:  # typer with an external click
    from click import BadParameter, ClickException, Context, UsageError  # type: ignore[no-redef]

    try:
        from click.exceptions import NoArgsIsHelpError  # type: ignore[no-redef]
    except ImportError:  # click < 8.2 prints the help itself
        class NoArgsIsHelpError(UsageError):  # type: ignore[no-redef]
            ctx = None

__all__ = ["BadParameter", "ClickException", "Context", "NoArgsIsHelpError", "UsageError"]
