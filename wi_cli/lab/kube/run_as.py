"""Which user a container's process runs as: the securityContext's ``runAsUser``,
``runAsGroup`` and the pod's ``supplementalGroups``/``fsGroup``, applied where the lab can.

A kubelet starts the container's process as ``runAsUser`` (the container's securityContext
overrides the pod's), with ``runAsGroup`` as its primary group (0 when unset) and the pod's
supplementalGroups and fsGroup as extra groups ("Configure a Security Context for a Pod or
Container", kubernetes.io). The lab's containers are local processes: it can switch user only
when it runs as root and that user can start the interpreter (the lab's own, which may live in
a folder other users cannot enter, such as /root). Otherwise the process runs as the lab's own
user and the pod gets a Warning event (reason ``RunAsNotApplied``) that says so: the uid a
process reports is then the lab's, and only the spec says what a node would use.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOT_APPLIED = "RunAsNotApplied"


@dataclass(frozen=True)
class RunAs:
    uid: int | None
    gid: int | None
    groups: tuple[int, ...] = ()

    @property
    def asked(self) -> bool:
        return self.uid is not None or self.gid is not None

    def is_current(self) -> bool:
        return (self.uid in (None, os.geteuid())) and (self.gid in (None, os.getegid()))

    def popen(self) -> dict[str, Any]:
        """Popen's arguments that start a process as this user."""
        if not self.asked or self.is_current():
            return {}
        args: dict[str, Any] = {"group": self.gid if self.gid is not None else 0,
                                "extra_groups": list(self.groups)}
        if self.uid is not None:
            args["user"] = self.uid
        return args


def wanted(pod: dict[str, Any], container: dict[str, Any]) -> RunAs:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    own = container.get("securityContext") or {}
    uid = own.get("runAsUser", pod_sc.get("runAsUser"))
    gid = own.get("runAsGroup", pod_sc.get("runAsGroup"))
    groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
    if pod_sc.get("fsGroup") is not None:
        groups.append(int(pod_sc["fsGroup"]))
    return RunAs(None if uid is None else int(uid), None if gid is None else int(gid),
                 tuple(dict.fromkeys(groups)))


_TRIED: dict[tuple[RunAs, str, str], str | None] = {}


def readable_by(path: Path, uid: int, gids: tuple[int, ...]) -> bool:
    """Could ``uid`` (with groups ``gids``) read ``path``: search permission on every folder
    above it, read permission on it, by the mode bits that apply to that user."""
    if uid == 0:
        return True

    def allowed(st: os.stat_result, bit: int) -> bool:
        if st.st_uid == uid:
            return bool(st.st_mode & (bit << 6))
        if st.st_gid in gids:
            return bool(st.st_mode & (bit << 3))
        return bool(st.st_mode & bit)

    try:
        resolved = path.resolve()
        if not all(allowed(folder.stat(), 1) for folder in reversed(resolved.parents)):
            return False
        return allowed(resolved.stat(), 4)
    except OSError:
        return False


def why_not(run_as: RunAs, program: str, cwd: Path, files: tuple[str, ...] = ()) -> str | None:
    """None when the lab can start ``program`` as ``run_as`` in the container's working folder
    ``cwd`` and that user can read ``files`` (the container's arguments that are paths here: the
    "image" is this machine's files, and a 0700 temporary folder rules the switch out); else
    why not."""
    if not run_as.asked or run_as.is_current():
        return None
    if os.geteuid() != 0:
        return f"the lab runs as uid {os.geteuid()}, not root, so it cannot switch user"
    uid = run_as.uid if run_as.uid is not None else os.geteuid()
    gids = (run_as.gid if run_as.gid is not None else 0, *run_as.groups)
    for name in files:
        if os.path.isabs(name) and os.path.exists(name) and not readable_by(Path(name), uid, gids):
            return f"uid {uid} cannot read {name} on this machine"
    key = (run_as, program, str(cwd))
    if key not in _TRIED:
        try:
            subprocess.run([program, "--version"], capture_output=True, timeout=30, check=True,
                           cwd=cwd, **run_as.popen())
            _TRIED[key] = None
        except (OSError, subprocess.SubprocessError) as exc:
            _TRIED[key] = (f"uid {run_as.uid if run_as.uid is not None else os.geteuid()} cannot "
                           f"start {program} on this machine ({type(exc).__name__})")
    return _TRIED[key]


def hand_over(run_as: RunAs, sandbox: Path) -> None:
    """The pod's files belong to the user its processes run as (the node root stays 0711, so
    it can reach them and nothing else)."""
    if not run_as.asked or run_as.is_current():
        return
    uid = run_as.uid if run_as.uid is not None else -1
    gid = run_as.gid if run_as.gid is not None else 0
    if sandbox.is_file():  # one file put into a sandbox already handed over
        os.chown(sandbox, uid, gid)
        return
    sandbox.parent.chmod(0o711)
    for folder, dirs, files in os.walk(sandbox):
        os.chown(folder, uid, gid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
