"""metav1.Status errors, worded as the real API server words them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .resources import ResourceType


class ApiError(Exception):
    """An API failure that becomes a ``kind: Status`` body with ``code`` = ``status``."""

    def __init__(self, status: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message,
                                "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.status
        return body


def _details(rt: "ResourceType", name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return details


def not_found(rt: "ResourceType", name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def already_exists(rt: "ResourceType", name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists',
                    _details(rt, name))


def conflict(rt: "ResourceType", name: str) -> ApiError:
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has '
                    f"been modified; please apply your changes to the latest version and try "
                    f"again", _details(rt, name))


def forbidden(rt: "ResourceType", name: str, reason_text: str) -> ApiError:
    subject = f'{rt.qualified} "{name}"' if name else rt.qualified
    details = _details(rt, name)
    if not name:
        details.pop("name")
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {reason_text}", details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


@dataclass
class Cause:
    """One field error (k8s.io/apimachinery/pkg/util/validation/field.Error)."""

    reason: str  # FieldValueInvalid | FieldValueRequired | FieldValueNotSupported | ...
    field: str
    detail: str
    value: Any = None

    @property
    def message(self) -> str:
        if self.reason == "FieldValueRequired":
            return f"Required value: {self.detail}" if self.detail else "Required value"
        if self.reason == "FieldValueForbidden":
            return f"Forbidden: {self.detail}"
        if self.reason == "FieldValueNotSupported":
            return f"Unsupported value: {_go_quote(self.value)}: {self.detail}"
        if self.reason == "FieldValueNotFound":
            return f"Not found: {_go_quote(self.value)}"
        if self.reason == "FieldValueDuplicate":
            return f"Duplicate value: {_go_quote(self.value)}"
        return f"Invalid value: {_go_quote(self.value)}: {self.detail}"

    def error(self) -> str:
        return f"{self.field}: {self.message}"


class Raw(str):
    """A value printed as-is in a field error (Go's %#v of a map), not quoted."""


def _go_quote(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def invalid(rt: "ResourceType", name: str, causes: list[Cause]) -> ApiError:
    errors = [c.error() for c in causes]
    joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    details: dict[str, Any] = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.kind
    details["causes"] = [{"reason": c.reason, "message": c.message, "field": c.field}
                         for c in causes]
    return ApiError(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {joined}',
                    details)
