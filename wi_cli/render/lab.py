"""`wi lab status` and `wi lab down` for people: plain lines, every path and URL whole."""

from __future__ import annotations

from ..core.models import CommandResult


def _say(text: str) -> None:
    from . import console

    console.out().print(text, markup=False)


def show_status(result: CommandResult) -> None:
    data = result.data
    if not data["running"]:
        _say(f"No lab is running in {data['state_dir']}.")
        return
    _say(f"The lab is running in {data['state_dir']} (PID {data['pid']}, scenario "
         f"{data.get('scenario') or 'unknown'}).")
    _say(f"  env.sh  {data['env_sh']}")
    if data.get("metadata_url"):
        _say(f"  cloud   {data['metadata_url']}")
    for name, url in (data.get("servers") or {}).items():
        _say(f"  {name:<7} {url}")


def show_down(result: CommandResult) -> None:
    data = result.data
    if data["stopped"]:
        _say(f"Stopped the lab in {data['state_dir']} (PID {data['pid']}).")
    else:
        _say(f"No lab is running in {data['state_dir']}: nothing to stop.")
