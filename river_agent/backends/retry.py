"""Retries with exponential back-off for transient backend failures (connection refused, timeouts, 5xx, 429)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


def with_retries(
    fn: Callable[[], T],
    *,
    is_transient: Callable[[BaseException], bool],
    attempts: int = 3,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn``; on a transient error retry up to ``attempts`` times in all, waiting base*2^k seconds.

    Non-transient errors and the last transient one propagate unchanged.
    """
    attempts = max(1, attempts)
    for k in range(attempts):
        try:
            return fn()
        except BaseException as e:
            if k == attempts - 1 or not is_transient(e):
                raise
            delay = min(max_delay, base_delay * 2**k)
            log.warning(
                "transient backend error (%s: %s); retry %d/%d in %.1fs",
                type(e).__name__,
                e,
                k + 1,
                attempts - 1,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
