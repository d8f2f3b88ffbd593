"""`wi probe`'s view: the probe pod's report as tables and the verdict's closing lines (claims
only, never a token)."""

from __future__ import annotations

import time
from typing import Any

from ..core.models import (
    AccessToken,
    CommandResult,
    DataPlaneCheck,
    Permissions,
    ProbeOutcome,
    ServiceAccountToken,
    Status,
)


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


Section = tuple[str, "list[str] | None", list[tuple[Any, ...]]]  # title, headers, rows


def _kv(title: str, rows: dict[str, Any]) -> Section:
    from ..core.redact import redact

    kept = redact({k: ", ".join(v) if isinstance(v, tuple) else v
                   for k, v in rows.items() if v not in (None, "")})
    return title, None, list(kept.items())


def _container_table(outcome: ProbeOutcome) -> Section:
    report = outcome.report
    c = report.container if report else None
    env = report.env.variables if report and report.env else {}
    first = report.credential.first if report and report.credential else None
    rows: dict[str, Any] = {
        "pod": f"{c.namespace}/{c.pod}" if c and c.pod else outcome.pod_name,
        "node": c.node if c else None, "hostname": c.hostname if c else None,
        "uid/gid": f"{c.uid if c else None}/{c.gid if c else None}",
        "os": c.os if c else None, "python": c.python if c else None}
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
                 "AZURE_FEDERATED_TOKEN_FILE"):
        rows[name] = env.get(name) or "(missing)"
    rows["DefaultAzureCredential first"] = first
    return _kv("Container", rows)


def _sa_table(sa: ServiceAccountToken) -> Section:
    claims = sa.claims
    aud = claims.aud if claims else None
    return _kv("Service-account token", {
        "file": sa.path, "readable": "yes" if sa.readable else "no",
        "mode": sa.mode, "error": sa.error, "iss": claims.iss if claims else None,
        "sub": claims.sub if claims else None,
        "aud": ", ".join(aud) if isinstance(aud, tuple) else aud,
        "issued": _when(claims.iat if claims else None),
        "expires": _when(claims.exp if claims else None),
        "lifetime": _duration(sa.lifetime_seconds),
        "expires in": _duration(sa.expires_in_seconds)})


def _access_table(access: AccessToken) -> Section:
    rows: dict[str, Any]
    if access.ok:
        claims = access.claims
        rows = {"result": "ok", "scope": access.scope, **{k: getattr(claims, k, None) for k in (
            "aud", "iss", "oid", "tid", "appid", "xms_mirid")},
            "expires in": _duration(access.expires_in_seconds)}
    else:
        error = access.error
        explanation = error.explanation if error else None
        rows = {"result": "failed", "endpoint": access.endpoint, "scope": access.scope,
                "code": (error.code or error.error) if error else None,
                "message": error.description if error else None,
                "root cause": explanation.cause if explanation else None,
                "fix": explanation.fix if explanation else None}
    if access.waited_seconds:
        codes = ", ".join(str(c or "a token") for c in access.codes)
        rows["retried"] = (f"{access.attempts or '?'} attempts over {access.waited_seconds:g} s "
                           f"while a new credential could be propagating ({codes})")
    return _kv("Entra access token", rows)


def _summary(values: tuple[str, ...], limit: int = 4) -> str:
    if not values:
        return "-"
    more = f" (+{len(values) - limit})" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def _permission_tables(perms: Permissions) -> list[Section]:
    roles = [(ra.role or ra.role_definition_id, ra.scope) for ra in perms.role_assignments] \
        or [("(none visible)", "")]
    scopes: list[tuple[Any, ...]] = []
    for entry in perms.scopes:
        if entry.error:
            scopes.append((entry.scope, f"{entry.error.status} {entry.error.code}", ""))
        else:
            scopes.append((entry.scope, _summary(entry.actions), _summary(entry.data_actions)))
    return [("Permissions", ["Role", "Scope"], roles),
            ("Effective permissions", ["Scope", "actions", "dataActions"], scopes)]


def _checks_table(checks: tuple[DataPlaneCheck, ...]) -> Section:
    rows: list[tuple[Any, ...]] = []
    for check in checks:
        error = check.error
        code = error.code if error else None
        result = "ok" if check.ok else f"{check.status or ''} {code or ''}"
        detail = check.detail or (check.explanation.cause if check.explanation else None) or \
            (error.message if error else None) or ""
        rows.append((f"{check.kind}: {check.action}", check.target, result.strip(), detail))
    return "Data-plane checks", ["Check", "Target", "Result", "Detail"], rows


def show(result: CommandResult) -> None:
    from rich.markup import escape

    from ..core.redact import redact_text
    from . import console
    from .human import print_whole

    outcome: ProbeOutcome = result.data
    report = outcome.report
    out = console.out()
    sections: list[Section] = []
    if report is not None and report.container is not None:
        sections.append(_container_table(outcome))
    tokens = report.tokens if report else None
    if tokens and tokens.service_account is not None:
        sections.append(_sa_table(tokens.service_account))
    if tokens and tokens.access_token is not None:
        sections.append(_access_table(tokens.access_token))
    if report is not None and report.permissions is not None:
        sections.extend(_permission_tables(report.permissions))
    if report is not None and report.checks:
        sections.append(_checks_table(report.checks))
    for title, headers, rows in sections:
        print_whole(title, headers, rows)
        if title == "Permissions" and report is not None and report.permissions is not None:
            why = report.permissions.why_no_role_assignments(bool(outcome.targets.scopes))
            if why:
                out.print(f"[dim]{escape(why)}[/]")
    if report is not None and report.permissions is not None:
        subs = ", ".join(f"{s.name} ({s.id})" for s in report.permissions.subscriptions)
        out.print(f"Subscriptions visible: {escape(subs or 'none')}")
    for note in outcome.targets.notes:
        console.err().print(f"[dim]{escape(note)}[/]")
    verdict = outcome.verdict
    mark = {Status.OK: "[green]✓[/]", Status.WARN: "[yellow]![/]"}.get(verdict.status,
                                                                      "[red]✗[/]")

    def text(value: str) -> str:  # causes may quote the pod's log: whatever an image printed
        return escape(redact_text(value))

    out.print(f"{mark} [bold]{text(verdict.summary)}[/]")
    for cause in verdict.causes:
        out.print(f"  cause: {text(cause)}")
    for fix in verdict.fixes:
        out.print(f"  [cyan]→[/] {text(fix)}")
    for warning in verdict.warnings:
        out.print(f"  [yellow]![/] {text(warning)}")
    for problem in outcome.cleanup:
        console.err().print(f"[yellow]![/] {escape(problem)}")
    if outcome.request.keep:
        ns, name = outcome.request.namespace, outcome.pod_name
        kept = [f"configmap/{name}"] if outcome.outcome == "refused" else \
            [f"pod/{name}", f"configmap/{name}"]
        out.print(f"Kept {' and '.join(kept)} in namespace {escape(ns)} (--keep); delete "
                  "with:")
        out.print(f"  [bold]$ kubectl delete {escape(' '.join(kept))} -n {escape(ns)}[/]")
