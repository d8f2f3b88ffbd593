"""The one JSON envelope every command prints with ``-o json`` (schema ``wi/v1``)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from enum import Enum
from typing import Any

from ..core.errors import ExitCode, WiError
from ..core.models import CommandResult
from ..core.redact import redact_text

SCHEMA = "wi/v1"


def _plain(value: Any) -> Any:
    """JSON-ready data: models and dataclasses turned into dicts, every string redacted (a
    walk over every node: the exact types first, they are nearly all of them)."""
    kind = type(value)
    if kind is str:
        return redact_text(value)
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    if value is None or kind is bool or kind is int or kind is float:
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, str):
        return redact_text(str(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "to_json"):
        return _plain(value.to_json())
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    return value


def envelope(command: str, *, status: str, exit_code: int, data: Any = None,
             findings: list[Any] | None = None, errors: list[WiError] | None = None) -> dict:
    return {
        "schema": SCHEMA,
        "command": command,
        "status": status,
        "exit_code": int(exit_code),
        "data": data,
        "findings": [f.to_json() for f in findings or []],
        "errors": [{"type": e.type, "message": e.message, "remediation": list(e.remediation)}
                   for e in errors or []],
    }


def dumps(doc: dict, pretty: bool = True) -> str:
    """The envelope as JSON text; ``pretty`` indents it (the C encoder only runs without an
    indent, which matters at tens of thousands of findings)."""
    return json.dumps(_plain(doc), indent=2 if pretty else None)


def _for_stdout(doc: dict) -> str:
    """Indented for a person at a terminal; one compact line for a pipe or a file (scripts)."""
    try:
        pretty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        pretty = False
    return dumps(doc, pretty)


def print_result(result: CommandResult) -> None:
    doc = envelope(result.command, status=result.status, exit_code=result.exit_code,
                   data=result.data, findings=result.findings)
    sys.stdout.write(_for_stdout(doc) + "\n")
    sys.stdout.flush()


def print_error(command: str, error: WiError) -> None:
    """The error envelope; a refused or half-done command keeps its data (``data.steps``,
    ``data.preflight``)."""
    doc = envelope(command, status="error", exit_code=error.exit_code, data=error.data,
                   errors=[error])
    sys.stdout.write(_for_stdout(doc) + "\n")
    sys.stdout.flush()


__all__ = ["SCHEMA", "envelope", "dumps", "print_result", "print_error", "ExitCode"]
