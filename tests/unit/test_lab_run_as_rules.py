"""When the lab's kubelet may run a container as another user: that user must be able to read
what the container starts with (the "image" is this machine's files)."""

from __future__ import annotations

import os
from pathlib import Path

from wi_cli.lab.kube.run_as import RunAs, readable_by, why_not

NOBODY = 65534


def test_mode_bits_decide_who_reads_a_file() -> None:
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp())  # pytest's own tmp_path sits in a 0700 folder
    top.chmod(0o755)
    folder = top / "app"
    folder.mkdir()
    script = folder / "server.js"
    script.write_text("// app")
    folder.chmod(0o700)
    script.chmod(0o644)
    assert not readable_by(script, NOBODY, (NOBODY,))  # cannot enter the folder
    folder.chmod(0o755)
    assert readable_by(script, NOBODY, (NOBODY,))
    script.chmod(0o600)
    assert not readable_by(script, NOBODY, (NOBODY,))
    assert readable_by(script, os.stat(script).st_uid, ())  # its owner
    assert readable_by(script, 0, ())
    shutil.rmtree(top)


def test_a_file_the_user_cannot_read_keeps_the_lab_user(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    script = private / "server.js"
    script.write_text("// app")
    reason = why_not(RunAs(NOBODY, NOBODY), "node", tmp_path, (str(script),))
    if os.geteuid() != 0:
        assert reason is not None and "not root" in reason
    else:
        assert reason == f"uid {NOBODY} cannot read {script} on this machine"
