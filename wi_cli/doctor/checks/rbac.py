"""Doctor checks of the rbac layer."""

from __future__ import annotations
