"""Bad input, property-based: names, GUIDs, resource ids, issuer URLs, scopes, role names,
`.wi.toml` files, kubeconfigs, cloud metadata documents and the probe agent's report. Every
example ends in exit 2 or 3 with one clear sentence (no traceback, no internal error), and
nothing in the lab changes: ARM's identities, credentials and role assignments and the
cluster's objects are compared before and after."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.request import urlopen

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import NS, make_service_account
from faultkit import EXAMPLES, lab_state
from wi_cli.lab.kube import scenarios

PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow, HealthCheck.data_too_large])
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
IDENTITY = scenarios.IDENTITY_NAME
SA = "bad-input-sa"  # exists, unbound: a valid bind of it would write


@pytest.fixture(scope="module")
def subject(world: dict[str, Any]) -> str:
    make_service_account(world, SA)
    return SA


@contextmanager
def unchanged(world: dict[str, Any]) -> Iterator[None]:
    before = lab_state(world["lab"], world["seeded"].cluster)
    yield
    assert lab_state(world["lab"], world["seeded"].cluster) == before, "the lab changed"


def refused(run: Any, codes: tuple[int, ...] = (2, 3)) -> str:
    """Exit 2 or 3 with one error sentence on stderr, no internal error."""
    assert run.code in codes, (run.code, run.out, run.err)
    lines = [line for line in run.err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Internal error" not in lines[0], run.err
    return lines[0]


def scope_rg(world: dict[str, Any]) -> str:
    seeded = world["seeded"]
    return f"/subscriptions/{seeded.subscription_id}/resourceGroups/{seeded.resource_group}"


text = st.text(min_size=0, max_size=60)
not_a_label = text.filter(lambda s: not DNS_LABEL.fullmatch(s))
segment = st.text(st.characters(codec="ascii", exclude_characters="/?#"), min_size=1,
                  max_size=30)


# -- names, identities, issuers, scopes, roles ---------------------------------------------------

@PROFILE
@given(which=st.sampled_from(["sa", "ns"]), name=not_a_label)
def test_bad_names(world, env, wi, subject, which: str, name: str) -> None:
    ns, sa = (name, subject) if which == "ns" else (NS, name)
    with unchanged(world):
        refused(wi("bind", f"--namespace={ns}", "--", sa, IDENTITY), (2,))


identity_refs = st.one_of(
    st.uuids().map(str),  # a client id no identity has
    st.uuids().map(lambda u: str(u).upper()[:-1] + "g"),  # GUID-shaped, not a GUID
    st.builds(lambda s, rg, n: f"/subscriptions/{s}/resourceGroups/{rg}/providers/"
                               f"Microsoft.ManagedIdentity/userAssignedIdentities/{n}",
              st.one_of(st.uuids().map(str), segment), segment, segment),
    st.builds(lambda s: f"/subscriptions/{s}", segment),
    text.filter(lambda s: not s.startswith("-")),
)


@PROFILE
@given(ref=identity_refs)
def test_bad_identities(world, env, wi, subject, ref: str) -> None:
    with unchanged(world):
        refused(wi("bind", f"--namespace={NS}", "--", subject, ref))


bad_issuers = st.one_of(
    text.filter(lambda s: not s.startswith("https://")),
    st.builds(lambda s: "https://" + s, st.sampled_from(["", " ", "a b", "/path", "?q", "#f",
                                                        "host\n", "ho st/x", "\t"])),
)


@PROFILE
@given(issuer=bad_issuers)
def test_bad_issuer_urls(world, env, wi, subject, issuer: str) -> None:
    with unchanged(world):
        refused(wi("bind", subject, IDENTITY, "-n", NS, f"--issuer={issuer}"), (2,))


@PROFILE
@given(scope=st.one_of(text.filter(lambda s: not s.startswith("/")),
                       st.builds(lambda a, b: f"/subscriptions/{a}/resourceGroups/{b}",
                                 segment, segment),
                       st.builds(lambda a: f"/{a}", segment)))
def test_bad_scopes(world, env, wi, subject, scope: str) -> None:
    with unchanged(world):
        refused(wi("bind", subject, IDENTITY, "-n", NS, "--role", "Reader",
                   f"--scope={scope}"))


@PROFILE
@given(role=st.one_of(text.filter(lambda s: s.strip() != ""
                                  and s.strip().lower() not in KNOWN_ROLES),
                      st.uuids().map(str)))
def test_bad_role_names(world, env, wi, subject, role: str) -> None:
    with unchanged(world):
        refused(wi("bind", subject, IDENTITY, "-n", NS, f"--role={role}",
                   f"--scope={scope_rg(world)}"))


# role names as ARM matches them (roleName eq is case-insensitive); wi strips the name
KNOWN_ROLES = {r.lower() for r in ("Reader", "Owner", "Contributor", "Key Vault Secrets User",
                                   "Storage Blob Data Reader", "User Access Administrator",
                                   "AcrPull")}


# -- .wi.toml ------------------------------------------------------------------------------------

toml_values = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                        st.lists(st.integers(), max_size=3), st.text(max_size=10))
def _not_toml(content: str) -> bool:
    import tomllib

    try:
        tomllib.loads(content)
    except tomllib.TOMLDecodeError:
        return True
    return False


bad_toml = st.one_of(
    text.filter(_not_toml),
    st.builds(lambda k, v: f"{k} = {json.dumps(v)}\n",  # unknown keys
              st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True).filter(
                  lambda k: k not in ("output", "cloud", "subscription", "kubeconfig",
                                      "context", "debug", "namespace")),
              st.text(max_size=10)),
    st.builds(lambda v: f"output = {json.dumps(v)}\n",  # wrong values of known keys
              toml_values.filter(lambda v: v not in ("table", "json"))),
    st.builds(lambda v: f"debug = {json.dumps(v)}\n",
              st.text(max_size=8).filter(lambda v: v.lower() not in (
                  "1", "true", "yes", "on", "0", "false", "no", "off", ""))),
    st.builds(lambda v: f"[doctor]\nno_such_option = {json.dumps(v)}\n", st.integers()),
    st.builds(lambda v: f"[doctor]\nnamespace = {json.dumps(v)}\n",
              st.one_of(st.integers(), st.lists(st.integers(), min_size=1, max_size=2))),
)


@PROFILE
@given(content=bad_toml)
def test_bad_wi_toml(world, env, wi, isolated_env: Path, content: str) -> None:
    (isolated_env / ".wi.toml").write_text(content)
    try:
        with unchanged(world):
            line = refused(wi("doctor", "--no-live"))
        if not content.lstrip().startswith("[doctor]"):
            assert ".wi.toml" in line or "output" in line.lower() or "debug" in line, line
    finally:
        (isolated_env / ".wi.toml").unlink()


# -- kubeconfigs -----------------------------------------------------------------------------------

def kubeconfig_cases(world: dict[str, Any]) -> st.SearchStrategy[str]:
    good = yaml.safe_load(Path(world["kubeconfig"]).read_text())

    def with_context(name: str) -> str:
        doc = json.loads(json.dumps(good))
        doc["current-context"] = name
        return yaml.safe_dump(doc)

    def with_plugin(command: str) -> str:
        doc = json.loads(json.dumps(good))
        doc["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                            "command": command, "interactiveMode": "Never"}}
        return yaml.safe_dump(doc)

    dumped = yaml.safe_dump(good)
    needed = ("clusters", "contexts", "current-context", "users")

    def still_whole(cut: str) -> bool:
        """A cut that leaves what a kubeconfig needs (it lost only `kind` or `preferences`)."""
        try:
            doc = yaml.safe_load(cut)
        except yaml.YAMLError:
            return False
        return isinstance(doc, dict) and all(doc.get(k) == good.get(k) for k in needed)

    return st.one_of(
        text,  # not a kubeconfig at all
        st.integers(1, len(dumped) - 1).map(lambda n: dumped[:n]).filter(
            lambda cut: not still_whole(cut)),  # truncated
        st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).filter(
            lambda n: n != good["current-context"]).map(with_context),  # unknown context
        st.from_regex(r"no-such-plugin-[a-z0-9]{1,12}", fullmatch=True).map(with_plugin),
        st.just(yaml.safe_dump({**good, "clusters": []})),
        st.just("- a list\n- not a mapping\n"),
    )


@PROFILE
@given(data=st.data())
def test_bad_kubeconfigs(world, env, wi, subject, tmp_path: Path, data: Any) -> None:
    content = data.draw(kubeconfig_cases(world))
    path = tmp_path / "kubeconfig"
    path.write_text(content)
    with unchanged(world):
        line = refused(wi("bind", subject, IDENTITY, "-n", NS, "--kubeconfig", str(path)),
                       (3,))
    assert "kubeconfig" in line.lower() or "context" in line.lower() or \
        "credential plugin" in line, line


def test_a_missing_kubeconfig(world, env, wi, subject, tmp_path: Path) -> None:
    with unchanged(world):
        line = refused(wi("bind", subject, IDENTITY, "-n", NS, "--kubeconfig",
                          str(tmp_path / "nowhere")), (3,))
    assert "No kubeconfig found" in line


# -- cloud metadata documents -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def metadata_server(world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An HTTPS endpoint (the lab's CA) that serves whatever metadata document a test sets."""
    from wi_cli.lab.http import LabServer, Response, Router

    served: dict[str, Any] = {"body": b"{}"}
    router = Router()
    router.add("GET", r"/metadata/endpoints",
               lambda req: Response(200, served["body"], {"Content-Type": "application/json"}))
    server = LabServer("bad-metadata", router, world["lab"].ca).start()
    served["url"] = f"{server.url}/metadata/endpoints?api-version=2022-09-01"
    lab = world["lab"]
    with urlopen(lab.metadata_url, context=lab.ca.client_context(), timeout=10) as resp:
        served["real"] = json.loads(resp.read())
    yield served
    server.stop()


def _retyped(doc: Any, path: list[Any], value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


wrong = st.one_of(st.none(), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                  st.text(max_size=12))


@PROFILE
@given(data=st.data())
def test_bad_cloud_metadata(world, env, wi, subject, metadata_server, monkeypatch,
                            data: Any) -> None:
    real = metadata_server["real"]
    raw = json.dumps(real)
    body = data.draw(st.one_of(
        st.integers(0, len(raw) - 1).map(lambda n: raw[:n]),  # truncated
        st.sampled_from([["resourceManager"], ["authentication", "loginEndpoint"],
                         ["authentication", "audiences"], ["authentication"]]).flatmap(
            lambda p: wrong.map(lambda v: json.dumps(_retyped(real, p, v)))),  # wrong types
        st.one_of(wrong, st.lists(wrong, max_size=3)).map(json.dumps),  # not the document
    ))
    metadata_server["body"] = body.encode()
    monkeypatch.setenv("WI_CLOUD", metadata_server["url"])
    with unchanged(world):
        line = refused(wi("bind", subject, IDENTITY, "-n", NS), (3, 4))
    assert "cloud metadata" in line, line


# -- the probe agent's report --------------------------------------------------------------------------

REPORT = Path(__file__).resolve().parents[1] / "fixtures" / "probe" / "healthy-report.json"


@PROFILE
@given(data=st.data())
def test_bad_agent_reports_are_one_sentence(data: Any) -> None:
    """Truncated, non-JSON, oversized or foreign reports fed to the probe's parser: a report,
    none, or ProbeReportError with one sentence and a fix; nothing else escapes."""
    from wi_cli.core.models import ProbeReportError, read_report
    from wi_cli.core.models.probe import MAX_REPORT_BYTES, PROBE_REPORT_PREFIX
    from wi_cli.core.probe import verdict

    good = json.dumps(json.loads(REPORT.read_text()))
    body = data.draw(st.one_of(
        st.integers(0, len(good) - 1).map(lambda n: good[:n]),
        text,
        st.builds(lambda v: json.dumps(v), wrong),
        st.builds(lambda k, v: json.dumps(_retyped(json.loads(good), [k], v)),
                  st.sampled_from(list(json.loads(good))), wrong),
        st.just("{" + " " * (MAX_REPORT_BYTES + 1) + "}"),
        st.just("[" * 100_000),
    ))
    noise = data.draw(st.lists(text.filter(lambda s: "\n" not in s and "\r" not in s),
                               max_size=3))
    log = "\n".join([*noise, PROBE_REPORT_PREFIX + body])
    try:
        read_report(log)
    except ProbeReportError as exc:
        assert "\n" not in exc.message and exc.message.endswith(".") and exc.remediation
        finding = verdict.unreadable_report("Succeeded", exc.message, exc.remediation)
        assert finding
