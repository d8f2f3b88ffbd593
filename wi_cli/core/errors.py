"""Exit codes and the error types every layer raises; the CLI boundary renders them."""

from __future__ import annotations

from enum import IntEnum
from typing import Iterable


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1  # doctor/probe found problems
    USAGE = 2
    CONFIG = 3  # configuration or credentials missing/invalid
    REMOTE = 4  # Azure/Kubernetes/Terraform refused or unreachable
    CONFLICT = 5  # conflict or failed precondition
    INTERNAL = 70
    INTERRUPTED = 130


def sentence(text: str) -> str:
    """``text`` ending as a sentence does (a full stop added when it has no end mark), so that
    more can follow it in one message."""
    said = text.rstrip()
    return said if said.endswith((".", "!", "?")) else said + "."


class WiError(Exception):
    """An error with a one-sentence message and the lines that say how to fix it."""

    exit_code: ExitCode = ExitCode.INTERNAL
    data: object = None  # what -o json shows as the envelope's data (e.g. a refused preflight)

    def __init__(self, message: str, remediation: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = list(remediation)

    @property
    def type(self) -> str:
        return type(self).__name__


class UsageError(WiError):
    exit_code = ExitCode.USAGE


class NotImplementedYet(UsageError):
    def __init__(self, command: str) -> None:
        super().__init__(f"'wi {command}' is not implemented yet.",
                         ["See 'wi --help' for the commands that work today."])


class ConfigError(WiError):
    exit_code = ExitCode.CONFIG


class CredentialError(ConfigError):
    pass


class RemoteError(WiError):
    """Azure, Kubernetes or Terraform refused the request or could not be reached."""

    exit_code = ExitCode.REMOTE


class AzureError(RemoteError):
    def __init__(self, message: str, remediation: Iterable[str] = (), *,
                 status: int | None = None, code: str | None = None) -> None:
        super().__init__(message, remediation)
        self.status = status
        self.code = code


class AzureNotFound(AzureError):
    exit_code = ExitCode.CONFIG  # a named object is missing: 3, like a missing service account


class AzureForbidden(AzureError):
    pass


class KubernetesError(RemoteError):
    def __init__(self, message: str, remediation: Iterable[str] = (), *,
                 status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message, remediation)
        self.status = status
        self.reason = reason


class KubernetesNotFound(KubernetesError):
    exit_code = ExitCode.CONFIG  # a named object is missing (DESIGN §3.6)


class Unreadable(RemoteError):
    """A public document could not be read; the message says why in a few words. ``status``:
    the HTTP status when the server answered; ``unresolved``: its host name does not resolve;
    ``transient``: a failure that may pass (429, 5xx, a timeout, a dropped connection), which
    says nothing about whether others can read it."""

    def __init__(self, message: str, remediation: Iterable[str] = (), *,
                 status: int | None = None, unresolved: bool = False,
                 transient: bool = False) -> None:
        super().__init__(message, remediation)
        self.status = status
        self.unresolved = unresolved
        self.transient = transient


class TerraformError(RemoteError):
    pass


class ConflictError(WiError):
    exit_code = ExitCode.CONFLICT


class Interrupted(WiError):
    exit_code = ExitCode.INTERRUPTED
