"""`wi doctor -o junit` on plain findings: the report is valid against the JUnit subset CI
reporters read (tests/fixtures/junit/junit.xsd), each status maps to its element, and no token
reaches the file."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from wi_cli.core.errors import ConfigError
from wi_cli.core.models import Evidence, Finding, Remediation, Status, Target
from wi_cli.render import junit

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "junit" / "junit.xsd"
FAKE_JWT = ".".join(["eyJ" + "a" * 20, "eyJ" + "b" * 30, "c" * 40])  # built at run time


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def finding(check: str, layer: str, status: Status, context: str = "east",
            summary: str = "summary", **target: str) -> Finding:
    return Finding(check, check, layer, status, summary,
                   Evidence("expected", "actual") if status != Status.OK else None,
                   Remediation("do this", ["wi bind app id -n demo"])
                   if status in (Status.FAIL, Status.WARN) else None,
                   target=Target(context=context, **target))


FINDINGS = [
    finding("cluster.oidc-issuer", "cluster", Status.OK),
    finding("identity.fic", "identity", Status.FAIL, namespace="demo", service_account="app"),
    finding("workload.pod-label", "workload", Status.WARN, namespace="demo", pod="web-1"),
    finding("live.token-exchange", "live", Status.SKIP, namespace="demo", service_account="app"),
    finding("cluster.reachable", "cluster", Status.ERROR, context="gone"),
    Finding("fleet.tenant", "One tenant", "fleet", Status.FAIL, "two tenants",
            target=Target(context="east,west", identity="id-a")),
]


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode())


def test_the_report_is_valid_junit(schema: xmlschema.XMLSchema) -> None:
    xml = junit.document(FINDINGS, {"east": 1.5, "gone": 0.2})
    schema.validate(xml)
    root = parse(xml)
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors"),
            root.get("skipped")) == ("testsuites", "6", "2", "1", "1")


def test_one_suite_per_context_and_layer_one_case_per_check_and_target() -> None:
    root = parse(junit.document(FINDINGS))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["east.cluster", "east.identity", "east.workload", "east.live",
                            "gone.cluster", "fleet"]
    (case,) = suites["east.identity"].iter("testcase")
    assert (case.get("classname"), case.get("name")) == ("east.identity", "identity.fic demo/app")
    failure = case.find("failure")
    assert failure.get("message") == "summary"
    assert "fix: do this" in failure.text and "$ wi bind app id -n demo" in failure.text


def test_each_status_maps_to_its_element() -> None:
    root = parse(junit.document(FINDINGS))
    cases = {c.get("name").split()[0]: c for c in root.iter("testcase")}
    assert list(cases["cluster.oidc-issuer"]) == []  # ok: passing, nothing inside
    assert [e.tag for e in cases["identity.fic"]] == ["failure"]
    assert [e.tag for e in cases["live.token-exchange"]] == ["skipped"]
    assert [e.tag for e in cases["cluster.reachable"]] == ["error"]
    warn = cases["workload.pod-label"]
    assert [e.tag for e in warn] == ["system-out"]  # a warning passes, and says why
    assert warn.find("system-out").text.startswith("warning: summary")


def test_a_fatal_error_is_one_error_testcase(schema: xmlschema.XMLSchema) -> None:
    xml = junit.error_document(ConfigError("No kubeconfig found at /x.", ["Pass --kubeconfig."]))
    schema.validate(xml)
    (case,) = parse(xml).iter("testcase")
    error = case.find("error")
    assert error.get("type") == "ConfigError" and "Pass --kubeconfig." in error.text


def test_no_token_and_no_illegal_character_reaches_the_file(schema: xmlschema.XMLSchema) -> None:
    leaky = finding("live.token-claims", "live", Status.FAIL,
                    summary=f"token {FAKE_JWT} was refused\x1b[0m")
    xml = junit.document([leaky])
    schema.validate(xml)
    assert "eyJ" not in xml and "\x1b" not in xml and "redacted JWT" in xml


def test_an_empty_run_is_still_a_valid_report(schema: xmlschema.XMLSchema) -> None:
    schema.validate(junit.document([]))
