"""`wi doctor -o junit`: the findings as a JUnit XML report, the format CI systems publish
(GitHub Actions test reporters, Azure Pipelines ``PublishTestResults@2`` with
``testResultsFormat: JUnit``).

One ``<testsuite>`` per context and layer (the cross-cluster findings form the ``fleet`` suite),
one ``<testcase>`` per check and target: ``fail`` → ``<failure>`` (the summary, the fix and its
commands), ``error`` → ``<error>``, ``skip`` → ``<skipped>``, ``warn`` → a passing testcase whose
``<system-out>`` says the warning and its fix, ``ok`` → a passing testcase. When nothing could run,
one ``<error>`` testcase says why. Every text is redacted: no token or secret reaches the file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Iterable, Sequence

from ..core.errors import WiError
from ..core.models import CommandResult, Finding, Status
from ..core.redact import redact_text

# characters XML 1.0 cannot carry, even escaped
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SUITES = "wi doctor"


def _text(value: str) -> str:
    return _ILLEGAL.sub("?", redact_text(value))


def _details(f: Finding) -> str:
    lines = [f.summary]
    if f.evidence is not None and f.status != Status.OK:
        lines += [f"expected: {f.evidence.expected}", f"actual: {f.evidence.actual}"]
    if f.remediation is not None:
        if f.remediation.text:
            lines.append(f"fix: {f.remediation.text}")
        lines += [f"$ {cmd}" for cmd in f.remediation.commands]
    if f.docs:
        lines.append(f"docs: {f.docs}")
    return _text("\n".join(lines))


def _testcase(suite: ET.Element, classname: str, f: Finding) -> None:
    name = f.id + (f" {f.target.label}" if f.target.label else "")
    case = ET.SubElement(suite, "testcase", {"classname": _text(classname), "name": _text(name),
                                             "time": "0"})
    if f.status == Status.FAIL:
        ET.SubElement(case, "failure", {"message": _text(f.summary), "type": f.id}).text = \
            _details(f)
    elif f.status == Status.ERROR:
        ET.SubElement(case, "error", {"message": _text(f.summary), "type": f.id}).text = \
            _details(f)
    elif f.status == Status.SKIP:
        ET.SubElement(case, "skipped", {"message": _text(f.summary)})
    elif f.status == Status.WARN:
        ET.SubElement(case, "system-out").text = "warning: " + _details(f)


def _count(suite: ET.Element, findings: Sequence[Finding], seconds: float = 0.0) -> None:
    suite.set("tests", str(len(findings)))
    suite.set("failures", str(sum(f.status == Status.FAIL for f in findings)))
    suite.set("errors", str(sum(f.status == Status.ERROR for f in findings)))
    suite.set("skipped", str(sum(f.status == Status.SKIP for f in findings)))
    suite.set("time", f"{seconds:.3f}")


def _suite_of(f: Finding) -> str:
    if f.layer == "fleet":
        return "fleet"
    return f"{f.target.context or 'current context'}.{f.layer}"


def document(findings: Iterable[Finding], seconds: dict[str, float] | None = None) -> str:
    """The report of a doctor run; ``seconds``: how long each context took."""
    findings = list(findings)
    root = ET.Element("testsuites", {"name": SUITES})
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(_suite_of(f), []).append(f)
    if not groups:
        _count(ET.SubElement(root, "testsuite", {"name": SUITES}), [])
    for name, group in groups.items():
        suite = ET.SubElement(root, "testsuite", {"name": _text(name)})
        context = group[0].target.context or ""
        share = (seconds or {}).get(context, 0.0) if group[0].layer != "fleet" else 0.0
        _count(suite, group, share / max(1, _layers_of(findings, context)))
        for f in group:
            _testcase(suite, name, f)
    _count(root, findings, sum((seconds or {}).values()))
    return _serialize(root)


def _layers_of(findings: Sequence[Finding], context: str) -> int:
    return len({f.layer for f in findings if (f.target.context or "") == context})


def error_document(error: WiError) -> str:
    """The report when doctor could not run at all: one testcase in error."""
    root = ET.Element("testsuites", {"name": SUITES})
    suite = ET.SubElement(root, "testsuite", {"name": SUITES})
    case = ET.SubElement(suite, "testcase", {"classname": SUITES, "name": "doctor ran",
                                             "time": "0"})
    ET.SubElement(case, "error", {"message": _text(error.message), "type": error.type}).text = \
        _text("\n".join([error.message, *error.remediation]))
    for element in (suite, root):
        element.attrib.update({"tests": "1", "failures": "0", "errors": "1", "skipped": "0",
                               "time": "0.000"})
    return _serialize(root)


def _serialize(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def of_result(result: CommandResult) -> str:
    data: Any = result.data if isinstance(result.data, dict) else {}
    seconds = {c["context"]: c.get("seconds", 0.0) for c in data.get("contexts") or []}
    return document(result.findings, seconds)
