"""Doctor checks of the webhook layer."""

from __future__ import annotations
