"""Doctor checks of the identity layer."""

from __future__ import annotations
