"""Terraform, driven through its ``-json`` UI: events, runner, errors (as ``WiError``s).

- :mod:`.events`  the JSON UI stream as typed events; plan and apply summaries; outputs
- :mod:`.runner`  the processes (init/plan/apply/output/destroy), streaming, Ctrl-C, version
- :mod:`.errors`  missing binary, failed command (its diagnostics), interruption → ``WiError``
- :mod:`.workdir` the bundled root module and its copy in the working directory
- :mod:`.azurerm` the operator's Azure account as azurerm reads it; the port ``wi provision`` uses
"""

from __future__ import annotations

from .azurerm import AzurermTerraform, arm_env
from .errors import Interrupted, TerraformFailed, TerraformMissing
from .events import (
    ApplyComplete,
    ApplyErrored,
    ApplyProgress,
    ApplyResult,
    ApplyStart,
    ChangeSummary,
    Diagnostic,
    Event,
    EventCallback,
    Output,
    PlannedChange,
    PlanSummary,
    ProvisionProgress,
    parse_event,
    parse_line,
    public_outputs,
)
from .runner import MIN_VERSION, Runner, find_terraform
from .workdir import bundled_module_dir

__all__ = [
    "MIN_VERSION", "ApplyComplete", "ApplyErrored", "ApplyProgress", "ApplyResult", "ApplyStart",
    "AzurermTerraform", "ChangeSummary", "Diagnostic", "Event", "EventCallback", "Interrupted",
    "Output", "PlanSummary", "PlannedChange", "ProvisionProgress", "Runner", "TerraformFailed",
    "TerraformMissing", "arm_env", "bundled_module_dir", "find_terraform", "parse_event",
    "parse_line", "public_outputs",
]
