"""Which view prints which command's result: one literal table (a result names its view, by
default its command; commands without one get the generic key/value view)."""

from __future__ import annotations

from typing import Callable

from ..core.models import CommandResult
from . import bind, demo, doctor, fleet, human, lab, migrate, probe, provision

VIEWS: dict[str, Callable[[CommandResult], None]] = {
    "bind": bind.show,
    "unbind": bind.show,
    "doctor": doctor.show,
    "doctor.checks": doctor.show_checks,
    "doctor.fleet": fleet.show,
    "probe": probe.show,
    "provision": provision.show,
    "provision.destroy": provision.show_destroy,
    "demo": demo.show,
    "lab status": lab.show_status,
    "lab down": lab.show_down,
    "migrate": migrate.show,
}


def show(result: CommandResult) -> None:
    VIEWS.get(result.view or result.command, human.print_result)(result)
