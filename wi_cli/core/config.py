"""Settings, resolved once per invocation (flags > env > ./.wi.toml > ~/.wi.toml > the `wi provision`
state file > defaults), and the :class:`Environment` they are read from.

Nothing here reads the environment or the disk at import time. :meth:`Environment.current` is
the one place (outside the in-pod agent and the lab) that reads ``os.environ``, the working
directory and the home directory; everything else gets what it needs from :class:`Settings`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError


@dataclass(frozen=True)
class Environment:
    """What the process was started with: variables, working and home directories, and whether
    someone is at a terminal to answer a question."""

    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = field(default_factory=lambda: Path("."))
    home: Path = field(default_factory=lambda: Path("."))
    interactive: bool = False

    @classmethod
    def current(cls) -> "Environment":
        try:
            interactive = sys.stdin.isatty()
        except (AttributeError, ValueError):
            interactive = False
        env = dict(os.environ)
        return cls(env, Path.cwd(), Path(env.get("HOME") or Path.home()), interactive)


STATE_SCHEMA = "wi-state/v1"
OUTPUT_FORMATS = ("table", "json", "junit")
REPORT_FORMATS = {"junit": "doctor"}  # a format only one command writes

# global option name -> environment variables, first set wins
ENV_VARS: dict[str, tuple[str, ...]] = {
    "output": ("WI_OUTPUT",),
    "cloud": ("WI_CLOUD", "ARM_CLOUD_METADATA_URL"),
    "subscription": ("AZURE_SUBSCRIPTION_ID",),
    "kubeconfig": ("KUBECONFIG",),
    "context": ("WI_CONTEXT",),
    "debug": ("WI_DEBUG",),
}
# global option name -> state file field that can default it
STATE_DEFAULTS = {"subscription": "subscription_id", "context": "kube_context"}
DEFAULTS: dict[str, Any] = {"output": "table", "cloud": "AzureCloud", "subscription": None,
                            "kubeconfig": None, "context": None, "debug": False}
GLOBAL_OPTIONS = tuple(DEFAULTS)
SHARED_OPTIONS = ("namespace",)  # top-level .wi.toml keys every command that takes them gets


@dataclass(frozen=True)
class Timeouts:
    """Seconds wi waits for a connection to Azure, Entra, a Kubernetes API server or an issuer
    (``connect``), then for each answer (``read``): WI_CONNECT_TIMEOUT, WI_READ_TIMEOUT."""

    connect: float = 10.0
    read: float = 60.0


TIMEOUT_VARS = {"connect": "WI_CONNECT_TIMEOUT", "read": "WI_READ_TIMEOUT"}


def timeouts_of(env: Mapping[str, str]) -> Timeouts:
    values: dict[str, float] = {}
    for name, var in TIMEOUT_VARS.items():
        raw = (env.get(var) or "").strip()
        if not raw:
            continue
        try:
            seconds = float(raw)
        except ValueError:
            seconds = float("nan")
        if not 0 < seconds <= 3600:  # also refuses nan and inf
            raise ConfigError(f"{var} must be a number of seconds above 0 and at most 3600, "
                              f"got {raw!r}.", [f"Set {var} to e.g. 30, or unset it."])
        values[name] = seconds
    return Timeouts(**values)


@dataclass
class State:
    """What `wi provision` leaves behind for the other commands (no secrets)."""

    resource_group: str | None = None
    cluster_name: str | None = None
    oidc_issuer_url: str | None = None
    identity_name: str | None = None
    identity_client_id: str | None = None
    identity_principal_id: str | None = None
    acr_login_server: str | None = None
    key_vault_name: str | None = None
    storage_account: str | None = None
    tenant_id: str | None = None
    subscription_id: str | None = None
    kube_context: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": STATE_SCHEMA, **asdict(self)}


@dataclass
class Settings:
    output: str = "table"
    cloud: str = "AzureCloud"
    subscription: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    debug: bool = False
    state: State | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    sources: dict[str, str] = field(default_factory=dict)  # option -> where its value came from
    environment: Environment = field(default_factory=Environment)

    @property
    def json(self) -> bool:
        return self.output == "json"

    @property
    def env(self) -> Mapping[str, str]:
        return self.environment.env

    @property
    def tenant(self) -> str | None:
        """The operator's tenant (AZURE_TENANT_ID), when set."""
        return self.env.get("AZURE_TENANT_ID") or None

    @property
    def state_dir(self) -> Path:
        return state_dir(self.env)

    @property
    def kubeconfig_path(self) -> str:
        """The kubeconfig to use: --kubeconfig / KUBECONFIG (a list, like kubectl's), else
        ~/.kube/config."""
        return self.kubeconfig or str(self.environment.home / ".kube" / "config")


def state_dir(env: Mapping[str, str]) -> Path:
    if env.get("WI_STATE_DIR"):
        return Path(env["WI_STATE_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("wi", appauthor=False))


def state_path(env: Mapping[str, str]) -> Path:
    return state_dir(env) / "state.json"


def load_state(path: Path) -> State | None:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"Cannot read the state file {path}: {exc.strerror}.") from None
    import json  # here, not at import: `wi --help` reads no state

    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"The state file {path} is not valid JSON.",
                          [f"Delete {path} or run 'wi provision' again."]) from None
    if not isinstance(doc, dict) or doc.get("schema") != STATE_SCHEMA:
        raise ConfigError(f"The state file {path} is not a {STATE_SCHEMA} document.",
                          [f"Delete {path} or run 'wi provision' again."])
    known = {f.name for f in fields(State)}
    return State(**{k: v for k, v in doc.items() if k in known})


def save_state(path: Path, state: State) -> None:
    """Write atomically with mode 0600 (the file names resources, so keep it private)."""
    import json
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(state.to_json(), fh, indent=2)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def find_project_file(cwd: Path) -> Path | None:
    for folder in (cwd, *cwd.parents):
        candidate = folder / ".wi.toml"
        if candidate.is_file():
            return candidate
    return None


def load_toml_defaults(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    unknown = sorted(k for k, v in doc.items()
                     if k not in GLOBAL_OPTIONS + SHARED_OPTIONS and not isinstance(v, dict))
    if unknown:
        raise ConfigError(f"{path} has unknown keys: {', '.join(unknown)}.",
                          [f"Allowed keys: {', '.join(GLOBAL_OPTIONS + SHARED_OPTIONS)}, and a "
                           "table per command ([doctor], [probe], ...) of that command's "
                           "options."])
    return doc


def command_defaults(environment: Environment) -> dict[str, dict[str, tuple[Any, str]]]:
    """Per-command defaults from the .wi.toml files, nearest file first: a ``[doctor]`` table
    (``namespace = "demo"``, option names with - or _) and the top-level ``namespace``, which
    every command that takes one gets (key ``"*"``). Each value comes with the file it is from;
    the CLI checks the names against each command's options. A command-line flag still wins."""
    merged: dict[str, dict[str, tuple[Any, str]]] = {}
    for where, layer in reversed(_layers(environment)):  # the nearer file overrides
        for key, value in layer.items():
            if key in SHARED_OPTIONS:
                merged.setdefault("*", {})[key] = (value, where)
            elif isinstance(value, dict):
                table = merged.setdefault(key, {})
                for option, v in value.items():
                    table[option.replace("-", "_")] = (v, where)
    return merged


def _env_value(name: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    for var in ENV_VARS[name]:
        if env.get(var):
            return env[var], f"env {var}"
    return None


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"debug must be true or false, got {value!r} ({where}).")


def _layers(environment: Environment) -> list[tuple[str, dict[str, Any]]]:
    """The .wi.toml files that apply, nearest first: the project's (cwd or a parent), then the
    user's (~/.wi.toml)."""
    layers: list[tuple[str, dict[str, Any]]] = []
    project = find_project_file(environment.cwd)
    if project:
        layers.append((str(project), load_toml_defaults(project)))
    user_file = environment.home / ".wi.toml"
    if user_file.is_file() and user_file != project:
        layers.append((str(user_file), load_toml_defaults(user_file)))
    return layers


def output_of(flag: str | None, environment: Environment) -> str:
    """The output format by the same precedence as :func:`resolve`, without the state file:
    what the error boundary needs before (or without) a full parse."""
    if flag:
        return str(flag).lower()
    found = _env_value("output", environment.env)
    if found:
        return str(found[0]).lower()
    for _, layer in _layers(environment):
        if layer.get("output") is not None:
            return str(layer["output"]).lower()
    return str(DEFAULTS["output"])


def resolve(flags: Mapping[str, Any], environment: Environment) -> Settings:
    """Resolve every global option from its sources, in precedence order."""
    layers = _layers(environment)
    env = environment.env
    state = load_state(state_path(env))

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in GLOBAL_OPTIONS:
        if flags.get(name) not in (None, False):
            values[name], sources[name] = flags[name], "flag"
            continue
        from_env = _env_value(name, env)
        if from_env:
            values[name], sources[name] = from_env
            continue
        for where, layer in layers:
            if layer.get(name) is not None:
                values[name], sources[name] = layer[name], where
                break
        else:
            state_field = STATE_DEFAULTS.get(name)
            if state and state_field and getattr(state, state_field):
                values[name], sources[name] = getattr(state, state_field), "state"
            else:
                values[name], sources[name] = DEFAULTS[name], "default"

    output = str(values["output"]).lower()
    if output not in OUTPUT_FORMATS:
        raise ConfigError(f"Output format must be table, json or junit, got {values['output']!r} "
                          f"({sources['output']}).")
    return Settings(
        output=output,
        cloud=str(values["cloud"]),
        subscription=values["subscription"],
        kubeconfig=values["kubeconfig"],
        context=values["context"],
        debug=_as_bool(values["debug"], sources["debug"]),
        state=state,
        timeouts=timeouts_of(env),
        sources=sources,
        environment=environment,
    )
