"""Placeholder: the entra emulator is being written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .http import Router

if TYPE_CHECKING:
    from .runtime import Lab


def build_router(lab: "Lab") -> Router:
    return Router(ignore_case=True)
