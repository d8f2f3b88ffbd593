"""`wi probe`'s view: the probe pod's report as tables (claims only, never a token)."""

from __future__ import annotations

import time
from typing import Any

from ..core.models import CommandResult


def _when(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(epoch))


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return ""
    sign, seconds = ("-" if seconds < 0 else ""), abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else \
        f"{sign}{rest // 60}m{rest % 60:02d}s"


def _kv(title: str, rows: dict[str, Any]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from ..core.redact import redact

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in redact({k: v for k, v in rows.items() if v not in (None, "")}).items():
        table.add_row(escape(str(key)), escape(str(value)))
    return table


def _container_table(data: dict[str, Any]) -> Any:
    c = data.get("container") or {}
    env = (data.get("env") or {}).get("variables") or {}
    cred = data.get("credential") or {}
    rows = {"pod": f"{c.get('namespace')}/{c.get('pod')}" if c.get("pod") else data["pod"]["name"],
            "node": c.get("node"), "hostname": c.get("hostname"),
            "uid/gid": f"{c.get('uid')}/{c.get('gid')}", "os": c.get("os"),
            "python": c.get("python")}
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
                 "AZURE_FEDERATED_TOKEN_FILE"):
        rows[name] = env.get(name) or "(missing)"
    rows["DefaultAzureCredential first"] = cred.get("first")
    return _kv("Container", rows)


def _sa_table(sa: dict[str, Any]) -> Any:
    claims = sa.get("claims") or {}
    aud = claims.get("aud")
    return _kv("Service-account token", {
        "file": sa.get("path"), "readable": "yes" if sa.get("readable") else "no",
        "mode": sa.get("mode"), "error": sa.get("error"), "iss": claims.get("iss"),
        "sub": claims.get("sub"), "aud": ", ".join(aud) if isinstance(aud, list) else aud,
        "issued": _when(claims.get("iat")), "expires": _when(claims.get("exp")),
        "lifetime": _duration(sa.get("lifetime_seconds")),
        "expires in": _duration(sa.get("expires_in_seconds"))})


def _access_table(access: dict[str, Any]) -> Any:
    if access.get("ok"):
        claims = access.get("claims") or {}
        rows = {"result": "ok", "scope": access.get("scope"), **{k: claims.get(k) for k in (
            "aud", "iss", "oid", "tid", "appid", "xms_mirid")},
            "expires in": _duration(access.get("expires_in_seconds"))}
    else:
        error = access.get("error") or {}
        explanation = error.get("explanation") or {}
        rows = {"result": "failed", "endpoint": access.get("endpoint"),
                "scope": access.get("scope"), "code": error.get("code") or error.get("error"),
                "message": error.get("description"), "root cause": explanation.get("cause"),
                "fix": explanation.get("fix")}
    if access.get("waited_seconds"):
        codes = ", ".join(str(c or "a token") for c in access.get("codes") or [])
        rows["retried"] = (f"{access.get('attempts') or '?'} attempts over "
                           f"{access['waited_seconds']:g} s while a new credential could be "
                           f"propagating ({codes})")
    return _kv("Entra access token", rows)


def _summary(values: list[str], limit: int = 4) -> str:
    if not values:
        return "-"
    more = f" (+{len(values) - limit})" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def _permission_tables(perms: dict[str, Any]) -> list[Any]:
    from rich.markup import escape
    from rich.table import Table

    roles = Table(title="Permissions", title_justify="left")
    roles.add_column("Role", no_wrap=True)
    roles.add_column("Scope", overflow="fold")
    for ra in perms.get("role_assignments") or []:
        roles.add_row(escape(str(ra.get("role") or ra.get("role_definition_id"))),
                      escape(str(ra.get("scope"))))
    if not perms.get("role_assignments"):
        roles.add_row("(none visible)", "")
    scopes = Table(title="Effective permissions", title_justify="left")
    for col in ("Scope", "actions", "dataActions"):
        scopes.add_column(col, overflow="fold")
    for entry in perms.get("scopes") or []:
        if entry.get("error"):
            err = entry["error"]
            scopes.add_row(escape(entry["scope"]), escape(f"{err.get('status')} "
                                                          f"{err.get('code')}"), "")
            continue
        scopes.add_row(escape(entry["scope"]), escape(_summary(entry.get("actions") or [])),
                       escape(_summary(entry.get("dataActions") or [])))
    subs = ", ".join(f"{s.get('name')} ({s.get('id')})" for s in perms.get("subscriptions") or [])
    scopes.caption = escape(f"Subscriptions visible: {subs or 'none'}")
    return [roles, scopes]


def _checks_table(checks: list[dict[str, Any]]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Data-plane checks", title_justify="left")
    for col in ("Check", "Target", "Result", "Detail"):
        table.add_column(col, overflow="fold")
    for check in checks:
        error = check.get("error") or {}
        result = "ok" if check.get("ok") else f"{check.get('status') or ''} {error.get('code') or ''}"
        detail = check.get("detail") or (check.get("explanation") or {}).get("cause") or \
            error.get("message") or ""
        table.add_row(escape(f"{check.get('kind')}: {check.get('action')}"),
                      escape(str(check.get("target"))), escape(result.strip()), escape(detail))
    return table


def show(result: CommandResult) -> None:
    from rich.markup import escape

    from . import console

    data = result.data
    out = console.out()
    if data.get("container") is not None:
        out.print(_container_table(data))
    tokens = data.get("tokens") or {}
    if tokens.get("service_account"):
        out.print(_sa_table(tokens["service_account"]))
    if tokens.get("access_token"):
        out.print(_access_table(tokens["access_token"]))
    if data.get("permissions"):
        for table in _permission_tables(data["permissions"]):
            out.print(table)
    if data.get("checks"):
        out.print(_checks_table(data["checks"]))
    verdict = data["verdict"]
    mark = {"ok": "[green]✓[/]", "warn": "[yellow]![/]"}.get(
        verdict.get("status") or ("ok" if verdict["ok"] else "fail"), "[red]✗[/]")
    out.print(f"{mark} [bold]{escape(verdict['summary'])}[/]")
    for cause in verdict.get("causes") or []:
        out.print(f"  cause: {escape(cause)}")
    for fix in verdict.get("fixes") or []:
        out.print(f"  [cyan]→[/] {escape(fix)}")
    for warning in verdict.get("warnings") or []:
        out.print(f"  [yellow]![/] {escape(warning)}")
    for problem in data.get("cleanup") or []:
        console.err().print(f"[yellow]![/] {escape(problem)}")
