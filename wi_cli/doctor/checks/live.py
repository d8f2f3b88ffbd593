"""Doctor checks of the live layer."""

from __future__ import annotations
