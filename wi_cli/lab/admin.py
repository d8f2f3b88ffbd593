"""The admin HTTP path (``/_lab/...`` on the ARM server): inspect state and set fault knobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .http import Request, Response, Router, json_response

if TYPE_CHECKING:
    from .runtime import Lab


def mount(lab: "Lab", router: Router) -> None:
    def state(req: Request) -> Response:
        return json_response(200, {"servers": {s.name: s.url for s in lab.servers}})

    router.add("GET", r"/_lab/state", state)
