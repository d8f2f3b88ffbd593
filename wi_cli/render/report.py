"""A report for CI (``wi doctor --output-file PATH``, ``-o junit``): the JUnit XML or the JSON
envelope of a result, or of the error that kept the command from running, and writing it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..core.errors import ConfigError, WiError
from ..core.models import CommandResult
from . import jsonout


def of_result(result: CommandResult, fmt: str) -> str:
    if fmt == "junit":
        from . import junit

        return junit.of_result(result)
    return jsonout.dumps(jsonout.envelope(result.command, status=result.status,
                                          exit_code=result.exit_code, data=result.data,
                                          findings=result.findings)) + "\n"


def of_error(error: WiError, fmt: str, command: str) -> str:
    if fmt == "junit":
        from . import junit

        return junit.error_document(error)
    return jsonout.dumps(jsonout.envelope(command, status="error", exit_code=error.exit_code,
                                          data=error.data, errors=[error])) + "\n"


def write(path: str, text: str) -> None:
    """Write the whole report or nothing (a CI step never reads half a file)."""
    target = Path(path).expanduser()
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".wi-report-", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # a report holds no secret; the CI step that publishes it reads it
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"Cannot write the report {target}: {exc.strerror}.",
                          ["Pass --output-file a path in a writable folder."]) from None
