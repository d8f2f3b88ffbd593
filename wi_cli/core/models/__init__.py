"""The domain as small typed values and the rules written once (../shared/DESIGN.md §5): every
command, doctor check and the probe call these instead of restating them. Pure functions over
plain values; nothing here does I/O or imports an SDK."""

from .azure import *  # noqa: F403
from .findings import *  # noqa: F403
from .k8s import *  # noqa: F403
from .objects import *  # noqa: F403
from .pods import *  # noqa: F403
from .kube import *  # noqa: F403
from .propagation import *  # noqa: F403
from .podidentity import *  # noqa: F403
from .probe import *  # noqa: F403
from .probe_outcome import *  # noqa: F403
