""".wi.toml's per-command defaults as click's ``default_map``: a value there stands in for an
option the command line did not give (a flag still wins; the option's source is then
"default_map", so "was -n given?" checks ask click, not the value)."""

from __future__ import annotations

import typing
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
            _check_type(allowed[option], value, f"{where}: [{name}] {option}")
        out[name] = {option: value for option, (value, _) in table.items()}
    for name in _leaf_names(commands):
        for option, (value, where) in shared.items():
            params = _options(commands[name])
            if option in params:
                _check_type(params[option], value, f"{where}: {option}")
                out.setdefault(name, {}).setdefault(option, value)
    return out


def _takes_text(param: Any) -> bool:
    if getattr(param, "multiple", False):
        return False
    descriptor = getattr(param, "type_descriptor", None)  # typer's lazily typed parameters
    if descriptor is not None:
        annotation = descriptor.annotation
        return annotation is str or (typing.get_origin(annotation) is typing.Union
                                     and set(typing.get_args(annotation)) == {str, type(None)})
    return getattr(getattr(param, "type", None), "name", "") == "text"


def _check_type(param: Any, value: Any, what: str) -> None:
    """A text option takes a TOML string (``namespace = 0`` is not the namespace "0")."""
    if _takes_text(param) and not isinstance(value, str):
        raise ConfigError(f"{what} must be a string, got {value!r}.",
                          ["Quote the value in the .wi.toml file."])


def _leaf_names(commands: dict[str, Any]) -> list[str]:
    return sorted(n for n, c in commands.items() if getattr(c, "commands", None) is None)


def _options(command: Any) -> dict[str, Any]:
    """The options a .wi.toml table may set, by name: the command's own, not the global ones
    (those go at the top of the file) nor --help."""
    return {p.name: p for p in command.params
            if p.name and p.name not in GLOBAL_OPTIONS and p.name != "help"
            and not getattr(p, "is_eager", False) and p.param_type_name == "option"}
