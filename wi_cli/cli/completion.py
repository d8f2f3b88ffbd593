"""Shell completion: ``wi --show-completion [SHELL]`` prints the script, ``wi
--install-completion [SHELL]`` adds it to the shell's start-up file (bash, zsh, fish,
PowerShell; without SHELL, the shell wi runs in). The scripts and the ``_WI_COMPLETE``
protocol are typer's.

Besides commands and options, every parameter named ``namespace``, ``service_account`` or
``identity`` completes from the current context: namespaces and service accounts from the
cluster, identities from the ``wi provision`` state and, with a subscription set, from ARM.
Each lookup gets COMPLETION_SECONDS in all (``WI_COMPLETION_SECONDS`` overrides it) and is
silent on any error: a completion never prints a message and never waits long. Nothing here is
imported for ``--help``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
OPTIONS = ("--show-completion", "--install-completion")
COMPLETION_SECONDS = 2.0
COMPLETE_VAR = "_WI_COMPLETE"


def requested(env: dict[str, str] | Any) -> bool:
    return bool(env.get(COMPLETE_VAR))


def with_shell(args: Sequence[str]) -> list[str]:
    """``--show-completion`` / ``--install-completion`` with nothing after them (or another
    option) mean the shell wi runs in (typer's detection); a name is checked by the option."""
    out = list(args)
    for i, tok in enumerate(out):
        if tok in OPTIONS and (i + 1 == len(out) or out[i + 1].startswith("-")):
            detected = _detect()
            if detected:
                out.insert(i + 1, detected)
            break
    return out


def _detect() -> str | None:
    try:
        from typer._completion_shared import _get_shell_name

        name = _get_shell_name()
    except Exception:  # noqa: BLE001 - no shell found: the parser asks for one
        return None
    return name if name in SHELLS else None


def shells(incomplete: str) -> list[str]:
    return [name for name in SHELLS if name.startswith(incomplete)]


def _shell(value: str) -> str:
    from ..core.errors import UsageError

    if value not in SHELLS:
        raise UsageError(f"Unknown shell {value!r}.",
                         ["Choose one of: bash, zsh, fish, powershell."])
    return value


def show(ctx: Any, param: Any, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    import typer
    from typer._completion_shared import get_completion_script

    typer.echo(get_completion_script(prog_name="wi", complete_var=COMPLETE_VAR,
                                     shell=_shell(value)))
    raise typer.Exit()


def install(ctx: Any, param: Any, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    import typer
    from typer._completion_shared import install as install_script

    shell, path = install_script(shell=_shell(value), prog_name="wi", complete_var=COMPLETE_VAR)
    typer.echo(f"{shell} completion installed in {path}; it takes effect in a new shell.")
    raise typer.Exit()


def prepare() -> None:
    """Register typer's completion classes (its bash/zsh/fish/PowerShell protocol)."""
    from typer._completion_classes import completion_init

    completion_init()


# -- values from the current context ----------------------------------------------------------

def _settings(ctx: Any) -> Any:
    """The global options given so far (before or after the subcommand), resolved as usual."""
    from ..core.config import GLOBAL_OPTIONS, Environment, resolve

    given: dict[str, Any] = {}
    node = ctx
    while node is not None:
        for name in GLOBAL_OPTIONS:
            value = node.params.get(f"g_{name}")
            if value not in (None, False) and name not in given:
                given[name] = value
        node = node.parent
    return resolve(given, Environment.current())


def budget() -> float:
    from ..core.config import Environment

    try:
        return float(Environment.current().env.get("WI_COMPLETION_SECONDS", COMPLETION_SECONDS))
    except ValueError:
        return COMPLETION_SECONDS


def _within_budget(fetch: Callable[[], list[str]]) -> list[str]:
    found: list[str] = []

    def run() -> None:
        try:
            found.extend(fetch())
        except BaseException:  # noqa: BLE001 - a completion is silent
            pass

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(budget())
    return list(found) if not worker.is_alive() else []


def _kube(ctx: Any) -> Any:
    from ..adapters.kube.client import KubeClients

    s = _settings(ctx)
    return KubeClients(s.kubeconfig_path, s.context, timeout=budget())


def _names(items: list[dict[str, Any]]) -> list[str]:
    return sorted((i.get("metadata") or {}).get("name", "") for i in items)


def namespaces(ctx: Any) -> list[str]:
    return _names(_kube(ctx).list_items("/api/v1/namespaces", "listing namespaces"))


def service_accounts(ctx: Any) -> list[str]:
    namespace = ctx.params.get("namespace") or "default"
    return _names(_kube(ctx).list_items(f"/api/v1/namespaces/{namespace}/serviceaccounts",
                                        "listing service accounts"))


def identities(ctx: Any) -> list[str]:
    s = _settings(ctx)
    names = [s.state.identity_name] if s.state and s.state.identity_name else []
    if s.subscription:
        from .wiring import azure_clients
        from ..adapters.azure.identities import Identities

        names += [i.name for i in Identities(azure_clients(s)).list(s.subscription)]
    return sorted(set(names))


COMPLETERS: dict[str, Callable[[Any], list[str]]] = {
    "namespace": namespaces, "service_account": service_accounts, "identity": identities,
}


def complete(ctx: Any, param: Any, incomplete: str) -> list[str]:
    fetch = COMPLETERS[param.name]
    return [n for n in _within_budget(lambda: fetch(ctx)) if n and n.startswith(incomplete)]


def attach(params: Sequence[Any]) -> None:
    """Give every parameter named like a completer (and without its own) that completer.
    ``_custom_shell_complete`` is where click and typer keep a parameter's completion."""
    for param in params:
        if param.name in COMPLETERS and getattr(param, "_custom_shell_complete", None) is None:
            param._custom_shell_complete = complete
