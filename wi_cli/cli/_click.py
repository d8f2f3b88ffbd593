"""The click pieces the error boundary needs, wherever this typer keeps them.

Newer typer releases vendor click as ``typer._click``; older ones depend on ``click`` itself.
"""

from __future__ import annotations

try:
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # typer with an external click
    from click import ClickException, UsageError  # type: ignore[no-redef]

    try:
        from click.exceptions import NoArgsIsHelpError  # type: ignore[no-redef]
    except ImportError:  # click < 8.2 prints the help itself
        class NoArgsIsHelpError(UsageError):  # type: ignore[no-redef]
            ctx = None

__all__ = ["ClickException", "NoArgsIsHelpError", "UsageError"]
