"""Doctor checks are small registered functions ``(report, <facts>...) -> None``.

    @check("cluster.oidc-issuer", "OIDC issuer enabled", layer="cluster")
    def oidc_issuer(report: Report, aks: AksRecord) -> None:
        report.fail("...", expected=True, actual=False, fix="...", commands=["az aks update ..."])

The parameters after ``report`` are the facts the check reads, by name and type (see
:mod:`wi_cli.doctor.facts`): they are fetched once, concurrently, before checks run, and a check
cannot read a fact it does not declare. A parameter with a default is optional: the default is
passed when that fact could not be read. A check reports one finding per thing it examined (one
per service account, say); one that examined nothing reports ``skip`` with why. ``requires``
names checks that must pass first (otherwise this one is skipped with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..core.models import LAYERS, Evidence, Finding, Remediation, Status, Target
from .facts import Needs

CheckFn = Callable[..., None]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    layer: str
    fn: CheckFn
    needs: Needs
    requires: tuple[str, ...] = ()
    failure_modes: tuple[int, ...] = ()  # rows of ../shared/failure-modes.md §3 it detects
    live: bool = False  # talks to Entra (off with --no-live)
    docs: str | None = None


REGISTRY: dict[str, Check] = {}


def check(id: str, title: str, *, layer: str,  # noqa: A002
          requires: Iterable[str] = (), failure_modes: Iterable[int] = (), live: bool = False,
          docs: str | None = None) -> Callable[[CheckFn], CheckFn]:
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}")

    def register(fn: CheckFn) -> CheckFn:
        if id in REGISTRY:
            raise ValueError(f"check {id!r} registered twice")
        REGISTRY[id] = Check(id, title, layer, fn, Needs.of(fn, skip=("report",)),
                             tuple(requires), tuple(failure_modes), live, docs)
        return fn
    return register


def all_checks() -> list[Check]:
    """Every check, in layer order (cluster → webhook → workload → identity → rbac → live)."""
    from . import checks  # noqa: F401 - importing registers them
    from .facts import load

    load()

    return sorted(REGISTRY.values(), key=lambda c: LAYERS.index(c.layer))


# -- building findings -----------------------------------------------------------------------------

@dataclass
class Report:
    """Findings for one check, with its id/title/layer/docs filled in."""

    check: Check
    made: list[Finding] = field(default_factory=list)
    target: Target = field(default_factory=Target)

    def about(self, target: Target) -> "Report":
        """The same report, its next findings about ``target``."""
        return Report(self.check, self.made, target)

    def _make(self, status: Status, summary: str, expected: object = None, actual: object = None,
              fix: str = "", commands: Iterable[str] = (),
              target: Target | None = None) -> Finding:
        evidence = Evidence(expected, actual) if (expected is not None or actual is not None) else None
        remediation = Remediation(fix, list(commands)) if (fix or commands) else None
        f = Finding(self.check.id, self.check.title, self.check.layer, status, summary, evidence,
                    remediation, self.check.docs, target=target or self.target)
        self.made.append(f)
        return f

    def ok(self, summary: str, **kw: Any) -> Finding:
        return self._make(Status.OK, summary, **kw)

    def warn(self, summary: str, **kw: Any) -> Finding:
        return self._make(Status.WARN, summary, **kw)

    def fail(self, summary: str, **kw: Any) -> Finding:
        return self._make(Status.FAIL, summary, **kw)

    def skip(self, summary: str, target: Target | None = None) -> Finding:
        return self._make(Status.SKIP, summary, target=target)
