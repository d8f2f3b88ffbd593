""".wi.toml's per-command defaults as click's ``default_map``: a value there stands in for an
option the command line did not give (a flag still wins; the option's source is then
"default_map", so "was -n given?" checks ask click, not the value)."""

from __future__ import annotations

from typing import Any

from ..core.config import GLOBAL_OPTIONS, Environment, command_defaults
from ..core.errors import ConfigError


def default_map(root: Any, environment: Environment) -> dict[str, dict[str, Any]]:
    found = command_defaults(environment)
    if not found:
        return {}
    shared = found.pop("*", {})
    commands = getattr(root, "commands", {})
    out: dict[str, dict[str, Any]] = {}
    for name, table in found.items():
        command = commands.get(name)
        if command is None or getattr(command, "commands", None) is not None:
            where = next(iter(table.values()))[1] if table else "a .wi.toml"
            raise ConfigError(f"{where} has a table [{name}], which is not a command that takes "
                              "options.", [f"Tables: {', '.join(_leaf_names(commands))}."])
        allowed = _options(command)
        for option, (value, where) in table.items():
            if option not in allowed:
                raise ConfigError(f"{where}: [{name}] has no option {option!r}.",
                                  [f"wi {name} takes: {', '.join(sorted(allowed))}."])
        out[name] = {option: value for option, (value, _) in table.items()}
    for name in _leaf_names(commands):
        for option, (value, _) in shared.items():
            if option in _options(commands[name]):
                out.setdefault(name, {}).setdefault(option, value)
    return out


def _leaf_names(commands: dict[str, Any]) -> list[str]:
    return sorted(n for n, c in commands.items() if getattr(c, "commands", None) is None)


def _options(command: Any) -> set[str]:
    """The options a .wi.toml table may set: the command's own, not the global ones (those go at
    the top of the file) nor --help."""
    return {p.name for p in command.params
            if p.name and p.name not in GLOBAL_OPTIONS and p.name != "help"
            and not getattr(p, "is_eager", False) and p.param_type_name == "option"}
