"""The domain as small typed values and the rules written once (../shared/DESIGN.md §5): every
command, doctor check and the probe call these instead of restating them. Pure functions over
plain values; nothing here does I/O or imports an SDK.

``from wi_cli.core.models import X`` imports only the submodule that defines X (PEP 562): the
help and the commands that need one value (``CommandResult``) do not pay for all of them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .azure import *  # noqa: F403
    from .findings import *  # noqa: F403
    from .k8s import *  # noqa: F403
    from .kube import *  # noqa: F403
    from .objects import *  # noqa: F403
    from .pods import *  # noqa: F403
    from .podidentity import *  # noqa: F403
    from .probe import *  # noqa: F403
    from .probe_defaults import *  # noqa: F403
    from .probe_outcome import *  # noqa: F403
    from .propagation import *  # noqa: F403

# the cheapest first; a public name defined by two of them is the same object in both
# (tests/unit/test_models_lazy.py checks it)
SUBMODULES = ("findings", "probe_defaults", "propagation", "k8s", "objects", "pods", "kube",
              "azure", "podidentity", "probe", "probe_outcome")


def _exported(module: Any) -> Any:
    """What ``from module import *`` gives: its ``__all__``, else its public names."""
    names = getattr(module, "__all__", None)
    return names if names is not None else [n for n in vars(module) if not n.startswith("_")]


_NAMES: dict[str, set[str]] = {}  # submodule -> the names it exports, once it is imported


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if not name.startswith("_"):
        for sub in SUBMODULES:
            module = importlib.import_module(f"{__name__}.{sub}")
            names = _NAMES.get(sub)
            if names is None:
                names = _NAMES[sub] = set(_exported(module))
            if name in names:
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
