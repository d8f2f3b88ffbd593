"""Run the ``terraform`` binary through its machine-readable UI (``-json``).

Why not python-terraform: version 0.10.1 (the last release) only returns a
command's output after it has finished, so nothing can be streamed while a
20-minute AKS apply runs, and its ``destroy`` sends ``-force``, which
Terraform >= 0.15 rejects. So this module drives the binary directly over
subprocess and hands each line of its ``-json`` stream, as a typed event
(:mod:`.events`), to the caller's ``on_event`` callback.

Nothing here prints. Terraform runs in its own process session, so a terminal
Ctrl-C reaches only Python; the runner then forwards exactly one SIGINT (a
second one makes Terraform exit immediately, which can lose state) and raises
``Interrupted``. Every failure leaves as a ``WiError`` (:mod:`.errors`).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import errors
from .errors import INSTALL_HINT, TerraformFailed, TerraformMissing
from .events import (
    ApplyResult,
    Event,
    EventCallback,
    Output,
    PlanSummary,
    parse_line,
    parse_outputs,
    summarise_apply,
    summarise_plan,
)
from .workdir import copy_module

MIN_VERSION = (1, 5)
PLAN_FILE = "wi.tfplan"


# --------------------------------------------------------------------------- discovery


def parse_version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(p) for p in match.groups()) if match else None


def version_from_output(stdout: str) -> str:
    """The version ``terraform version -json`` reports (its first line if that is not JSON)."""
    try:
        return str(json.loads(stdout)["terraform_version"])
    except (ValueError, KeyError, TypeError):
        return stdout.strip().splitlines()[0] if stdout.strip() else ""


def find_terraform(binary: str | None = None, search: str | None = None) -> tuple[str, str]:
    """Return ``(path, version)`` of a usable terraform (looked up on ``search``, a PATH), or
    raise ``TerraformMissing``."""
    path = shutil.which(binary or "terraform", path=search)
    if path is None:
        raise TerraformMissing(f"terraform was not found ({binary or 'terraform'} on PATH)", INSTALL_HINT)
    try:
        proc = subprocess.run(
            [path, "version", "-json"], capture_output=True, text=True, timeout=60, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TerraformMissing(f"could not run {path}: {exc}", INSTALL_HINT) from None
    version = version_from_output(proc.stdout)
    parsed = parse_version(version)
    if parsed is None:
        raise TerraformMissing(f"could not read the version of {path}", INSTALL_HINT)
    if parsed[:2] < MIN_VERSION:
        raise TerraformMissing(
            f"terraform {version} at {path} is too old; wi needs >= {'.'.join(map(str, MIN_VERSION))}",
            INSTALL_HINT,
        )
    return path, version


# --------------------------------------------------------------------------- runner


@dataclass
class _RunResult:
    returncode: int
    events: list[Event]
    stderr: str
    interrupted: bool


class Runner:
    """Drives one Terraform working directory: prepare, init, plan, apply, output, destroy."""

    def __init__(
        self,
        workdir: Path | str,
        module_dir: Path | str,
        env_extra: Mapping[str, str] | None = None,
        *,
        env: Mapping[str, str],
        terraform: str | None = None,
        plugin_cache_dir: Path | str | None = None,
    ) -> None:
        """``env``: the environment Terraform runs in (wi's settings'); ``env_extra`` wins."""
        self.base_env = dict(env)
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
        """The binary's path; the first use finds it and checks its version."""
        if self._version is None:
            self._binary, self._version = find_terraform(self._binary,
                                                         self.base_env.get("PATH"))
        assert self._binary is not None
        return self._binary

    @property
    def version(self) -> tuple[int, ...]:
        _ = self.terraform
        return parse_version(self._version or "") or (0, 0, 0)

    def prepare(self) -> Path:
        """Copy the module into the workdir (see :func:`.workdir.copy_module`)."""
        return copy_module(self.module_dir, self.workdir)

    def _env(self) -> dict[str, str]:
        env = dict(self.base_env)
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
        return summarise_plan(result.events, plan_file, destroy)

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
        return summarise_apply(result.events, time.monotonic() - started)

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
        except json.JSONDecodeError:
            raw = None
        if not isinstance(raw, dict):
            raise TerraformFailed(
                "terraform output -json did not return JSON", command="output", returncode=0
            )
        return parse_outputs(raw)

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

    def _popen(self, args: list[str], name: str) -> subprocess.Popen[str]:
        try:
            return subprocess.Popen(
                [self.terraform, *args],
                cwd=self.workdir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                start_new_session=True,  # Ctrl-C in the terminal reaches only us
            )
        except OSError as exc:
            raise TerraformFailed(
                f"could not start terraform {name} in {self.workdir}: {exc.strerror or exc}",
                command=name, returncode=1, remediation=errors.remediation(name, self.workdir),
            ) from None

    def _start(self, args: list[str], name: str) -> subprocess.Popen[str]:
        with self._lock:
            self._sigint_sent = False
            proc = self._proc = self._popen(args, name)
            return proc

    def _stream(self, args: list[str], on_event: EventCallback | None) -> _RunResult:
        proc = self._start(args, args[0])
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
        proc = self._start(args, name)
        try:
            stdout, stderr = proc.communicate()
        except KeyboardInterrupt:
            self.interrupt()
            _wait_ignoring_interrupts(proc)
            raise errors.interrupted(name, self.workdir) from None
        finally:
            with self._lock:
                self._proc = None
        if proc.returncode != 0:
            raise TerraformFailed(
                f"terraform {name} failed: "
                f"{errors.last_lines(stderr) or 'exit code ' + str(proc.returncode)}",
                command=name, returncode=proc.returncode, stderr=stderr,
            )
        return stdout

    def _check(self, result: _RunResult, name: str) -> _RunResult:
        if result.interrupted:
            raise errors.interrupted(name, self.workdir)
        if result.returncode != 0:
            raise errors.failed(name, result.returncode, result.events, result.stderr, self.workdir)
        return result


# --------------------------------------------------------------------------- helpers


def _var_args(vars: Mapping[str, Any], var_files: Iterable[Path | str]) -> list[str]:
    args = [f"-var-file={Path(f).expanduser().resolve()}" for f in var_files]
    args += [f"-var={key}={_var_value(value)}" for key, value in vars.items()]
    return args


def _var_value(value: Any) -> str:
    """Strings go as-is; other values as JSON, which Terraform accepts as HCL literals."""
    return value if isinstance(value, str) else json.dumps(value)


def _drain(stream: IO[str], sink: list[str]) -> None:
    for chunk in iter(stream.readline, ""):
        sink.append(chunk)


def _wait_ignoring_interrupts(proc: subprocess.Popen[str]) -> int:
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue
