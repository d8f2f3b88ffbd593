"""Doctor checks of the workload layer."""

from __future__ import annotations
