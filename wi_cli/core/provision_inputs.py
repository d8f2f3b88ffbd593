"""What `wi provision` is asked to apply: the options checked before anything changes, and the
module and variables of the last run in the working directory, which a re-run reuses."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .errors import UsageError

INPUTS_FILE = ".wi-inputs.json"  # module and variables of the last apply, reused by re-runs
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


# -- option checks (before anything changes) -------------------------------------------------------

def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _VAR_NAME.match(name):
            raise UsageError(f"--var takes NAME=VALUE, got {pair.split('=')[0]!r}.",
                             ["Example: --var location=westeurope"])
        variables[name] = value
    return variables


def check_var_files(paths: Sequence[str]) -> list[Path]:
    files = [Path(p).expanduser() for p in paths]
    for path in files:
        if not path.is_file():
            raise UsageError(f"The variables file {path} does not exist.",
                             ["Pass --var-file with the path of a .tfvars file."])
    return [p.resolve() for p in files]


def check_module(path: str | None) -> Path | None:
    if path is None:
        return None
    module = Path(path).expanduser().resolve()
    if not module.is_dir() or not any(module.glob("*.tf")) and not any(module.glob("*.tf.json")):
        raise UsageError(f"{module} is not a Terraform root module (a folder of .tf files).",
                         ["Pass --module DIR pointing at a Terraform root module, or leave it "
                          "out to use the module bundled with wi."])
    return module


def require_consent(assume_yes: bool, plan_only: bool, interactive: bool, json_mode: bool) -> None:
    """Refuse before any work when nobody can answer the confirmation prompt."""
    if assume_yes or plan_only:
        return
    if json_mode:
        raise UsageError("With -o json nobody can answer the confirmation prompt.",
                         ["pass -y to apply without a prompt (or --plan-only to only plan)"])
    if not interactive:
        raise UsageError("Standard input is not a terminal, so nobody can confirm the plan.",
                         ["pass -y to apply without a prompt (or --plan-only to only plan)"])


# -- the module and variables of this run, on top of the last run's --------------------------------

@dataclass(frozen=True)
class Inputs:
    module: Path
    variables: dict[str, str]
    var_files: list[Path]
    reused: list[str]  # variable names taken from the last run


def read_inputs(workdir: Path) -> dict[str, Any]:
    try:
        doc = json.loads((workdir / INPUTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def write_inputs(workdir: Path, inputs: Inputs) -> None:
    path = workdir / INPUTS_FILE
    path.write_text(json.dumps({"module": str(inputs.module), "vars": dict(inputs.variables),
                                "var_files": [str(p) for p in inputs.var_files]}, indent=2))
    path.chmod(0o600)  # variable values may be private


def resolve_inputs(workdir: Path, module: Path | None, variables: Mapping[str, str],
                   var_files: Sequence[Path], bundled_module: Callable[[], Path]) -> Inputs:
    """The requested module and variables on top of those the last run in ``workdir`` used; the
    bundled module when neither names one."""
    last = read_inputs(workdir)
    recorded_module = last.get("module")
    if module is None:
        module = Path(recorded_module) if recorded_module and Path(recorded_module).is_dir() \
            else bundled_module()
    recorded_vars = {str(k): str(v) for k, v in (last.get("vars") or {}).items()}
    files = [Path(p) for p in last.get("var_files") or [] if Path(p).is_file()]
    files += [p for p in var_files if p not in files]
    reused = sorted(set(recorded_vars) - set(variables))
    return Inputs(module, {**recorded_vars, **variables}, files, reused)
