"""stdout is for data, stderr is for talk (messages, spinners, progress)."""

from __future__ import annotations

from functools import lru_cache

from rich.console import Console


@lru_cache(maxsize=None)
def out() -> Console:
    return Console(soft_wrap=True, highlight=False)


@lru_cache(maxsize=None)
def err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def reset() -> None:
    """Forget cached consoles (tests swap sys.stdout/sys.stderr between runs)."""
    out.cache_clear()
    err.cache_clear()
