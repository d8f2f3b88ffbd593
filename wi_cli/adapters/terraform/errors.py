"""What goes wrong with Terraform, as ``WiError``s: one sentence, the fix, wi's exit code.

Missing or too old a binary is configuration (exit 3), a failed command is a remote refusal
(exit 4), an interrupted one exits 130. The subclasses keep what callers can use (the command,
every diagnostic in full) while the JSON envelope shows the public kind as the error ``type``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ...core import errors as wi
from .events import Diagnostic, Event, TextLine, diagnostics

INSTALL_HINT = [
    "Install Terraform >= 1.5: https://developer.hashicorp.com/terraform/install",
    "or put an existing terraform binary on PATH (check with `terraform version`).",
]


def sentence(text: str) -> str:
    """One line, capitalised, ending with a full stop."""
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class TerraformMissing(wi.ConfigError):
    """No usable terraform binary (or bundled module): exit 3."""

    def __init__(self, message: str, remediation: Iterable[str] = ()) -> None:
        super().__init__(sentence(message), remediation)

    @property
    def type(self) -> str:
        return wi.ConfigError.__name__


class TerraformFailed(wi.TerraformError):
    """A terraform command failed: exit 4, with its error diagnostics for a full display."""

    def __init__(
        self,
        message: str,
        *,
        command: str,
        returncode: int,
        diagnostics: Sequence[Diagnostic] = (),
        stderr: str = "",
        remediation: Iterable[str] = (),
    ) -> None:
        super().__init__(sentence(message), remediation)
        self.command = command
        self.returncode = returncode
        self.diagnostics = list(diagnostics)
        self.stderr = stderr

    @property
    def type(self) -> str:
        return wi.TerraformError.__name__


class Interrupted(wi.Interrupted):
    """Ctrl-C reached a running terraform, which stopped after saving its state: exit 130."""

    def __init__(self, message: str, *, command: str, remediation: Iterable[str] = ()) -> None:
        super().__init__(sentence(message), remediation)
        self.command = command


def interrupted(command: str, workdir: Path) -> Interrupted:
    return Interrupted(
        f"terraform {command} was interrupted; Terraform stopped after saving its state in {workdir}",
        command=command,
        remediation=[
            "run the same `wi provision` command again to resume: the workdir and its state are reused",
            f"or inspect it with `terraform -chdir={workdir} plan`",
        ],
    )


def failed(command: str, returncode: int, events: Sequence[Event], stderr: str,
           workdir: Path) -> TerraformFailed:
    """A failed streaming command as one sentence: its error diagnostics, else its last lines.

    With several errors the sentence names the first and how many there are; the rest stay on
    ``diagnostics`` for the display."""
    errors = diagnostics(events, "error")
    if len(errors) > 1:
        message = (f"Terraform {command} failed with {len(errors)} errors, "
                   f"the first: {errors[0].describe()}")
    elif errors:
        message = f"terraform {command} failed: {errors[0].describe()}"
    else:
        texts = [e.message for e in events if isinstance(e, TextLine)]
        message = f"terraform {command} failed: " + (
            last_lines("\n".join(texts) + "\n" + stderr) or f"exit code {returncode}")
    return TerraformFailed(message, command=command, returncode=returncode, diagnostics=errors,
                           stderr=stderr, remediation=remediation(command, workdir))


def remediation(command: str, workdir: Path) -> list[str]:
    hints = ["fix the cause above and run `wi provision` again; finished resources are kept in the state"]
    if command == "init":
        hints.insert(0, "terraform init needs to reach the provider registry (or a plugin cache/mirror)")
    hints.append(f"working directory: {workdir}")
    return hints


def last_lines(text: str, count: int = 5) -> str:
    """The last few meaningful lines of Terraform's human output, box drawing stripped."""
    lines = [ln.strip(" │╷╵") for ln in text.strip().splitlines()]
    return " ".join([ln for ln in lines if ln][-count:])
