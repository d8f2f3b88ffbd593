"""Run the ``terraform`` binary through its machine-readable UI (``-json``).

Why not python-terraform: version 0.10.1 (the last release) only returns a
command's output after it has finished, so nothing can be streamed while a
20-minute AKS apply runs, and its ``destroy`` sends ``-force``, which
Terraform >= 0.15 rejects. Terraform's own ``-json`` UI is a stable, versioned
stream of one JSON object per line (``planned_change``, ``change_summary``,
``apply_start``, ``apply_progress``, ``apply_complete``, ``apply_errored``,
``provision_progress``, ``diagnostic`` ...), so this module drives the binary
directly over subprocess and turns each line into a plain dataclass.

Nothing here prints: callers pass an ``on_event`` callback and render.
Terraform runs in its own process session, so a terminal Ctrl-C reaches only
Python; the runner then forwards exactly one SIGINT (a second one makes
Terraform exit immediately, which can lose state) and raises ``Interrupted``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MIN_VERSION = (1, 5)
PLAN_FILE = "wi.tfplan"
MODULE_PATTERNS = ("*.tf", "*.tf.json", "*.tfvars", "*.tfvars.json")
INSTALL_HINT = [
    "Install Terraform >= 1.5: https://developer.hashicorp.com/terraform/install",
    "or put an existing terraform binary on PATH (check with `terraform version`).",
]


# --------------------------------------------------------------------------- errors


class TerraformError(Exception):
    """Base of the runner's errors; ``exit_code`` follows wi's exit-code table."""

    exit_code = 4

    def __init__(self, message: str, remediation: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = list(remediation)


class TerraformMissing(TerraformError):
    exit_code = 3


class TerraformFailed(TerraformError):
    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        command: str,
        returncode: int,
        diagnostics: Sequence[Diagnostic] = (),
        stderr: str = "",
        remediation: Sequence[str] = (),
    ) -> None:
        super().__init__(message, remediation)
        self.command = command
        self.returncode = returncode
        self.diagnostics = list(diagnostics)
        self.stderr = stderr


class Interrupted(TerraformError):
    exit_code = 130

    def __init__(self, message: str, *, command: str, remediation: Sequence[str] = ()) -> None:
        super().__init__(message, remediation)
        self.command = command


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, kw_only=True)
class Event:
    """One line of Terraform's JSON UI. Types without a dedicated class stay ``Event``."""

    type: str
    message: str
    level: str = "info"
    timestamp: str = ""


@dataclass(frozen=True, kw_only=True)
class ResourceEvent(Event):
    address: str
    resource_type: str = ""
    action: str = ""


@dataclass(frozen=True, kw_only=True)
class PlannedChange(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ResourceDrift(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ApplyStart(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ApplyProgress(ResourceEvent):
    elapsed_seconds: float = 0


@dataclass(frozen=True, kw_only=True)
class ApplyComplete(ResourceEvent):
    elapsed_seconds: float = 0
    id_key: str = ""
    id_value: str = ""


@dataclass(frozen=True, kw_only=True)
class ApplyErrored(ResourceEvent):
    elapsed_seconds: float = 0


@dataclass(frozen=True, kw_only=True)
class RefreshStart(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class RefreshComplete(ResourceEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ProvisionStart(ResourceEvent):
    provisioner: str = ""


@dataclass(frozen=True, kw_only=True)
class ProvisionProgress(ResourceEvent):
    provisioner: str = ""
    output: str = ""


@dataclass(frozen=True, kw_only=True)
class ProvisionComplete(ResourceEvent):
    provisioner: str = ""


@dataclass(frozen=True, kw_only=True)
class ProvisionErrored(ResourceEvent):
    provisioner: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangeSummary(Event):
    add: int = 0
    change: int = 0
    remove: int = 0
    import_: int = 0
    operation: str = ""


@dataclass(frozen=True, kw_only=True)
class Diagnostic(Event):
    severity: str
    summary: str
    detail: str = ""
    address: str = ""
    filename: str = ""
    line: int | None = None

    def describe(self) -> str:
        where = f" ({self.filename}:{self.line})" if self.filename and self.line else ""
        target = f"{self.address}: " if self.address else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{target}{self.summary}{detail}{where}"


@dataclass(frozen=True, kw_only=True)
class OutputsDeclared(Event):
    """The ``outputs`` event: names mapped to whether each is sensitive (no values)."""

    sensitive: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TextLine(Event):
    """A non-JSON line (``terraform init`` before 1.9 has no ``-json``)."""


_HOOK_EVENTS: dict[str, type[ResourceEvent]] = {
    "apply_start": ApplyStart,
    "apply_progress": ApplyProgress,
    "apply_complete": ApplyComplete,
    "apply_errored": ApplyErrored,
    "refresh_start": RefreshStart,
    "refresh_complete": RefreshComplete,
    "provision_start": ProvisionStart,
    "provision_progress": ProvisionProgress,
    "provision_complete": ProvisionComplete,
    "provision_errored": ProvisionErrored,
}


def _resource_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    resource = payload.get("resource") or {}
    return {
        "address": str(resource.get("addr", "")),
        "resource_type": str(resource.get("resource_type", "")),
        "action": str(payload.get("action", "")),
    }


def _hook_extras(cls: type[ResourceEvent], hook: Mapping[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if issubclass(cls, (ApplyProgress, ApplyComplete, ApplyErrored)):
        extras["elapsed_seconds"] = hook.get("elapsed_seconds", 0) or 0
    if cls is ApplyComplete:
        extras["id_key"] = str(hook.get("id_key") or "")
        extras["id_value"] = str(hook.get("id_value") or "")
    if cls in (ProvisionStart, ProvisionProgress, ProvisionComplete, ProvisionErrored):
        extras["provisioner"] = str(hook.get("provisioner", ""))
    if cls is ProvisionProgress:
        extras["output"] = str(hook.get("output", ""))
    return extras


def _diagnostic(base: dict[str, Any], diag: Mapping[str, Any]) -> Diagnostic:
    rng = diag.get("range") or {}
    return Diagnostic(
        **base,
        severity=str(diag.get("severity", "error")),
        summary=str(diag.get("summary", "")),
        detail=str(diag.get("detail", "") or ""),
        address=str(diag.get("address", "") or ""),
        filename=str(rng.get("filename", "") or ""),
        line=(rng.get("start") or {}).get("line"),
    )


def parse_event(obj: Mapping[str, Any]) -> Event:
    """Turn one decoded JSON UI message into the matching event dataclass."""
    kind = str(obj.get("type", ""))
    base = {
        "type": kind,
        "message": str(obj.get("@message", "")),
        "level": str(obj.get("@level", "info")),
        "timestamp": str(obj.get("@timestamp", "")),
    }
    if kind in _HOOK_EVENTS:
        cls = _HOOK_EVENTS[kind]
        hook = obj.get("hook") or {}
        return cls(**base, **_resource_fields(hook), **_hook_extras(cls, hook))
    if kind in ("planned_change", "resource_drift"):
        cls2 = PlannedChange if kind == "planned_change" else ResourceDrift
        return cls2(**base, **_resource_fields(obj.get("change") or {}))
    if kind == "change_summary":
        changes = obj.get("changes") or {}
        return ChangeSummary(
            **base,
            add=int(changes.get("add", 0)),
            change=int(changes.get("change", 0)),
            remove=int(changes.get("remove", 0)),
            import_=int(changes.get("import", 0)),
            operation=str(changes.get("operation", "")),
        )
    if kind == "diagnostic":
        return _diagnostic(base, obj.get("diagnostic") or {})
    if kind == "outputs":
        declared = obj.get("outputs") or {}
        return OutputsDeclared(
            **base, sensitive={k: bool((v or {}).get("sensitive")) for k, v in declared.items()}
        )
    return Event(**base)


def parse_line(line: str) -> Event | None:
    """Parse one stdout line; blank lines give None, non-JSON lines a ``TextLine``."""
    text = line.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            return parse_event(obj)
    return TextLine(type="text", message=text)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PlanSummary:
    plan_file: Path
    destroy: bool
    add: int
    change: int
    remove: int
    import_: int
    changes: list[PlannedChange]
    warnings: list[Diagnostic]

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.remove or self.import_)

    @property
    def total(self) -> int:
        """Resource operations the apply will perform (a replace counts twice)."""
        return self.add + self.change + self.remove

    def actions(self) -> dict[str, str]:
        return {c.address: c.action for c in self.changes}


@dataclass(frozen=True)
class ApplyResult:
    add: int
    change: int
    remove: int
    operation: str
    completed: list[str]
    warnings: list[Diagnostic]
    elapsed_seconds: float


@dataclass(frozen=True, repr=False)
class Output:
    name: str
    value: Any = field(repr=False)
    sensitive: bool
    type: Any = None

    def __repr__(self) -> str:  # never show a sensitive value in a traceback or log
        shown = "<sensitive>" if self.sensitive else repr(self.value)
        return f"Output(name={self.name!r}, value={shown}, sensitive={self.sensitive})"


def public_outputs(outputs: Mapping[str, Output]) -> dict[str, Any]:
    """Plain ``name -> value`` of the outputs not marked sensitive."""
    return {name: out.value for name, out in outputs.items() if not out.sensitive}


@dataclass
class _RunResult:
    returncode: int
    events: list[Event]
    stderr: str
    interrupted: bool

    def diagnostics(self, severity: str) -> list[Diagnostic]:
        return [e for e in self.events if isinstance(e, Diagnostic) and e.severity == severity]


# --------------------------------------------------------------------------- discovery


def _parse_version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(p) for p in match.groups()) if match else None


def find_terraform(binary: str | None = None) -> tuple[str, str]:
    """Return ``(path, version)`` of a usable terraform, or raise ``TerraformMissing``."""
    path = shutil.which(binary or "terraform")
    if path is None:
        raise TerraformMissing(f"terraform was not found ({binary or 'terraform'} on PATH)", INSTALL_HINT)
    try:
        proc = subprocess.run(
            [path, "version", "-json"], capture_output=True, text=True, timeout=60, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TerraformMissing(f"could not run {path}: {exc}", INSTALL_HINT) from exc
    version = _version_from_output(proc.stdout)
    parsed = _parse_version(version)
    if parsed is None:
        raise TerraformMissing(f"could not read the version of {path}", INSTALL_HINT)
    if parsed[:2] < MIN_VERSION:
        raise TerraformMissing(
            f"terraform {version} at {path} is too old; wi needs >= {'.'.join(map(str, MIN_VERSION))}",
            INSTALL_HINT,
        )
    return path, version


def _version_from_output(stdout: str) -> str:
    try:
        return str(json.loads(stdout)["terraform_version"])
    except (ValueError, KeyError, TypeError):
        return stdout.strip().splitlines()[0] if stdout.strip() else ""


def bundled_module_dir() -> Path:
    """The azurerm root module: ``wi_cli/_terraform`` in a wheel, ``terraform/`` in a checkout."""
    packaged = resources.files("wi_cli").joinpath("_terraform")
    if packaged.is_dir() and any(p.name.endswith(".tf") for p in packaged.iterdir()):
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "terraform"
    if checkout.is_dir():
        return checkout
    raise TerraformMissing(
        "the Terraform module is not bundled with this installation of wi",
        ["reinstall wi, or pass --module DIR pointing at a copy of the module"],
    )


ARM_ENVIRONMENTS = {"azurecloud": "public", "azurechinacloud": "china",
                    "azureusgovernment": "usgovernment"}
# the operator's credentials as azure-identity reads them -> as azurerm reads them
_CREDENTIAL_VARS = {"AZURE_CLIENT_ID": "ARM_CLIENT_ID", "AZURE_CLIENT_SECRET": "ARM_CLIENT_SECRET",
                    "AZURE_CLIENT_CERTIFICATE_PATH": "ARM_CLIENT_CERTIFICATE_PATH",
                    "AZURE_FEDERATED_TOKEN_FILE": "ARM_OIDC_TOKEN_FILE_PATH"}


def arm_env(subscription_id: str | None = None, tenant_id: str | None = None,
            cloud: str | None = None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``ARM_*`` variables azurerm reads, for ``Runner(env_extra=...)``.

    azurerm does not read the ``AZURE_*`` variables that DefaultAzureCredential (and so the rest
    of wi) uses, so a service principal or workload identity given that way is passed on as its
    ``ARM_*`` equivalent; ``ARM_*`` variables the user set already win. ``cloud`` is a cloud name
    (ARM_ENVIRONMENT) or an ARM metadata URL (ARM_METADATA_HOSTNAME).
    """
    env = {} if env is None else env
    out: dict[str, str] = {}
    if subscription_id:
        out["ARM_SUBSCRIPTION_ID"] = subscription_id
    if tenant_id:
        out["ARM_TENANT_ID"] = tenant_id
    for azure_var, arm_var in _CREDENTIAL_VARS.items():
        if env.get(azure_var):
            out[arm_var] = env[azure_var]
    if "ARM_OIDC_TOKEN_FILE_PATH" in out:
        out["ARM_USE_OIDC"] = "true"
    if cloud:
        if cloud.lower() in ARM_ENVIRONMENTS:
            out["ARM_ENVIRONMENT"] = ARM_ENVIRONMENTS[cloud.lower()]
        elif cloud.startswith("https://"):
            out["ARM_METADATA_HOSTNAME"] = urlsplit(cloud).netloc
    return {k: v for k, v in out.items() if not env.get(k)}


# --------------------------------------------------------------------------- runner

EventCallback = Callable[[Event], None]


class Runner:
    """Drives one Terraform working directory: prepare, init, plan, apply, output, destroy."""

    def __init__(
        self,
        workdir: Path | str,
        module_dir: Path | str,
        env_extra: Mapping[str, str] | None = None,
        *,
        terraform: str | None = None,
        plugin_cache_dir: Path | str | None = None,
    ) -> None:
        self.workdir = Path(workdir).expanduser().resolve()
        self.module_dir = Path(module_dir).expanduser().resolve()
        self.env_extra = dict(env_extra or {})
        self.plugin_cache_dir = Path(plugin_cache_dir) if plugin_cache_dir else None
        self._binary = terraform
        self._version: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._sigint_sent = False
        self._lock = threading.Lock()

    # -- setup

    @property
    def terraform(self) -> str:
        if self._version is None:
            self._binary, self._version = find_terraform(self._binary)
        assert self._binary is not None
        return self._binary

    @property
    def version(self) -> tuple[int, ...]:
        _ = self.terraform
        return _parse_version(self._version or "") or (0, 0, 0)

    def prepare(self) -> Path:
        """Copy the module's files into the workdir, keeping ``.terraform`` and state.

        Files that a previous copy left but the module no longer has are removed,
        so a re-run never applies resources from an older module.
        """
        if not self.module_dir.is_dir():
            raise TerraformFailed(
                f"Terraform module directory {self.module_dir} does not exist",
                command="prepare", returncode=1,
                remediation=["pass --module DIR pointing at a Terraform root module"],
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        wanted = {p.name: p for pattern in MODULE_PATTERNS for p in self.module_dir.glob(pattern)}
        if not any(name.endswith((".tf", ".tf.json")) for name in wanted):
            raise TerraformFailed(
                f"{self.module_dir} contains no .tf files", command="prepare", returncode=1
            )
        for pattern in MODULE_PATTERNS:
            for stale in self.workdir.glob(pattern):
                if stale.name not in wanted:
                    stale.unlink()
        for name, src in wanted.items():
            shutil.copy2(src, self.workdir / name)
        return self.workdir

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env_extra)
        env["TF_IN_AUTOMATION"] = "1"
        env.pop("TF_CLI_ARGS", None)  # could inject flags that break the JSON stream
        if self.plugin_cache_dir and "TF_PLUGIN_CACHE_DIR" not in env:
            self.plugin_cache_dir.mkdir(parents=True, exist_ok=True)
            env["TF_PLUGIN_CACHE_DIR"] = str(self.plugin_cache_dir)
        return env

    # -- commands

    def init(self, on_event: EventCallback | None = None, *, upgrade: bool = False) -> None:
        args = ["init", "-input=false", "-no-color"]
        if self.version[:2] >= (1, 9):
            args.append("-json")
        if upgrade:
            args.append("-upgrade")
        self._check(self._stream(args, on_event), "init")

    def plan(
        self,
        vars: Mapping[str, Any] | None = None,
        var_files: Iterable[Path | str] = (),
        destroy: bool = False,
        on_event: EventCallback | None = None,
    ) -> PlanSummary:
        plan_file = self.workdir / PLAN_FILE
        plan_file.unlink(missing_ok=True)
        args = ["plan", "-json", "-input=false", "-no-color", f"-out={PLAN_FILE}"]
        if destroy:
            args.append("-destroy")
        args += _var_args(vars or {}, var_files)
        result = self._check(self._stream(args, on_event), "plan")
        return _summarise_plan(result, plan_file, destroy)

    def apply(self, on_event: EventCallback | None = None) -> ApplyResult:
        """Apply the plan written by the last ``plan()``, streaming events to ``on_event``."""
        plan_file = self.workdir / PLAN_FILE
        if not plan_file.is_file():
            raise TerraformFailed(
                "there is no saved plan to apply", command="apply", returncode=1,
                remediation=["run plan() first"],
            )
        started = time.monotonic()
        args = ["apply", "-json", "-input=false", "-no-color", PLAN_FILE]
        try:
            result = self._check(self._stream(args, on_event), "apply")
        finally:
            plan_file.unlink(missing_ok=True)  # a saved plan is stale once applied, even partly
        return _summarise_apply(result, time.monotonic() - started)

    def destroy(
        self,
        vars: Mapping[str, Any] | None = None,
        var_files: Iterable[Path | str] = (),
        on_event: EventCallback | None = None,
    ) -> tuple[PlanSummary, ApplyResult]:
        """Plan a destroy and apply it (callers wanting a confirmation use plan+apply)."""
        summary = self.plan(vars, var_files, destroy=True, on_event=on_event)
        return summary, self.apply(on_event)

    def outputs(self) -> dict[str, Output]:
        result = self._run_capture(["output", "-json", "-no-color"], "output")
        try:
            raw = json.loads(result or "{}")
        except json.JSONDecodeError as exc:
            raise TerraformFailed(
                "terraform output -json did not return JSON", command="output", returncode=0
            ) from exc
        return {
            name: Output(name=name, value=o.get("value"), sensitive=bool(o.get("sensitive")),
                         type=o.get("type"))
            for name, o in raw.items()
        }

    # -- interruption

    def interrupt(self) -> bool:
        """Ask the running terraform to stop gracefully; sends SIGINT at most once per command."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or self._sigint_sent:
                return False
            self._sigint_sent = True
            proc.send_signal(signal.SIGINT)
            return True

    # -- process plumbing

    def _popen(self, args: list[str], capture_stdout: bool = True) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.terraform, *args],
            cwd=self.workdir,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=True,  # Ctrl-C in the terminal reaches only us
        )

    def _stream(self, args: list[str], on_event: EventCallback | None) -> _RunResult:
        with self._lock:
            self._sigint_sent = False
            proc = self._proc = self._popen(args)
        stderr_chunks: list[str] = []
        reader = threading.Thread(target=_drain, args=(proc.stderr, stderr_chunks), daemon=True)
        reader.start()
        events: list[Event] = []
        interrupted = False
        try:
            interrupted = self._pump(proc, events, on_event)
        except BaseException:
            # The callback failed: stop terraform gracefully rather than orphan it.
            self.interrupt()
            _wait_ignoring_interrupts(proc)
            raise
        returncode = _wait_ignoring_interrupts(proc)
        reader.join(timeout=5)
        with self._lock:
            self._proc = None
        return _RunResult(returncode, events, "".join(stderr_chunks), interrupted or self._sigint_sent)

    def _pump(self, proc: subprocess.Popen[str], events: list[Event],
              on_event: EventCallback | None) -> bool:
        """Read events until EOF. A KeyboardInterrupt forwards one SIGINT and keeps reading."""
        interrupted = False
        assert proc.stdout is not None
        while True:
            try:
                line = proc.stdout.readline()
                if not line:
                    return interrupted
                event = parse_line(line)
                if event is None:
                    continue
                events.append(event)
                if on_event is not None:
                    on_event(event)
            except KeyboardInterrupt:
                # Only the first one is forwarded: a second SIGINT makes terraform quit hard.
                interrupted = True
                self.interrupt()

    def _run_capture(self, args: list[str], name: str) -> str:
        with self._lock:
            self._sigint_sent = False
            proc = self._proc = self._popen(args)
        try:
            stdout, stderr = proc.communicate()
        except KeyboardInterrupt:
            self.interrupt()
            _wait_ignoring_interrupts(proc)
            raise self._interrupted(name) from None
        finally:
            with self._lock:
                self._proc = None
        if proc.returncode != 0:
            raise TerraformFailed(
                f"terraform {name} failed: {_last_lines(stderr) or 'exit code ' + str(proc.returncode)}",
                command=name, returncode=proc.returncode, stderr=stderr,
            )
        return stdout

    def _interrupted(self, name: str) -> Interrupted:
        return Interrupted(
            f"terraform {name} was interrupted; Terraform stopped after saving its state in {self.workdir}",
            command=name,
            remediation=[
                "run the same `wi provision` command again to resume: the workdir and its state are reused",
                f"or inspect it with `terraform -chdir={self.workdir} plan`",
            ],
        )

    def _check(self, result: _RunResult, name: str) -> _RunResult:
        if result.interrupted:
            raise self._interrupted(name)
        if result.returncode == 0:
            return result
        errors = result.diagnostics("error")
        if errors:
            summary = "; ".join(dict.fromkeys(d.describe() for d in errors))
        else:
            texts = [e.message for e in result.events if isinstance(e, TextLine)]
            summary = _last_lines("\n".join(texts) + "\n" + result.stderr) or f"exit code {result.returncode}"
        raise TerraformFailed(
            f"terraform {name} failed: {summary}",
            command=name,
            returncode=result.returncode,
            diagnostics=errors,
            stderr=result.stderr,
            remediation=_remediation(name, self.workdir),
        )


# --------------------------------------------------------------------------- helpers


def _var_args(vars: Mapping[str, Any], var_files: Iterable[Path | str]) -> list[str]:
    args = [f"-var-file={Path(f).expanduser().resolve()}" for f in var_files]
    args += [f"-var={key}={_var_value(value)}" for key, value in vars.items()]
    return args


def _var_value(value: Any) -> str:
    """Strings go as-is; other values as JSON, which Terraform accepts as HCL literals."""
    return value if isinstance(value, str) else json.dumps(value)


def _summarise_plan(result: _RunResult, plan_file: Path, destroy: bool) -> PlanSummary:
    summaries = [e for e in result.events if isinstance(e, ChangeSummary)]
    last = summaries[-1] if summaries else ChangeSummary(type="change_summary", message="")
    return PlanSummary(
        plan_file=plan_file,
        destroy=destroy,
        add=last.add,
        change=last.change,
        remove=last.remove,
        import_=last.import_,
        changes=[e for e in result.events if isinstance(e, PlannedChange)],
        warnings=result.diagnostics("warning"),
    )


def _summarise_apply(result: _RunResult, elapsed: float) -> ApplyResult:
    summaries = [e for e in result.events if isinstance(e, ChangeSummary)]
    last = summaries[-1] if summaries else ChangeSummary(type="change_summary", message="")
    return ApplyResult(
        add=last.add,
        change=last.change,
        remove=last.remove,
        operation=last.operation,
        completed=[e.address for e in result.events if isinstance(e, ApplyComplete)],
        warnings=result.diagnostics("warning"),
        elapsed_seconds=elapsed,
    )


def _remediation(name: str, workdir: Path) -> list[str]:
    hints = ["fix the cause above and run `wi provision` again; finished resources are kept in the state"]
    if name == "init":
        hints.insert(0, "terraform init needs to reach the provider registry (or a plugin cache/mirror)")
    hints.append(f"working directory: {workdir}")
    return hints


def _drain(stream: Any, sink: list[str]) -> None:
    for chunk in iter(stream.readline, ""):
        sink.append(chunk)


def _wait_ignoring_interrupts(proc: subprocess.Popen[str]) -> int:
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def _last_lines(text: str, count: int = 5) -> str:
    """The last few meaningful lines of Terraform's human output, box drawing stripped."""
    lines = [ln.strip(" │╷╵") for ln in text.strip().splitlines()]
    return " ".join([ln for ln in lines if ln][-count:])
