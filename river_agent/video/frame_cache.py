"""Decoded frames of recently read video files, kept in memory under a byte budget.

One ``river edit`` reads its source video five times (the up-front check, perception's passes, the renderer's
two passes, verification) and its output twice; at 832x480 each H.264 decode of 48 frames costs about a second
on this CPU. A video whose frames fit the budget is decoded once per process. Entries are keyed by the file's
resolved path, size and modification time, so a rewritten file is decoded again; the least recently used
entries leave first. ``RIVER_FRAME_CACHE_MB`` sets the budget (default 256; 0 turns the cache off).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

DEFAULT_BUDGET_MB = 256.0

CacheKey = tuple[str, int, int]


def budget_bytes() -> int:
    """The cache's budget in bytes, from ``RIVER_FRAME_CACHE_MB`` (unset or unreadable: the default)."""
    try:
        mb = float(os.environ.get("RIVER_FRAME_CACHE_MB", DEFAULT_BUDGET_MB))
    except ValueError:
        mb = DEFAULT_BUDGET_MB
    return max(0, int(mb * 1024 * 1024))


def fits(n_frames: int, frame_bytes: int, budget: int | None = None) -> bool:
    """Whether a video of ``n_frames`` frames of ``frame_bytes`` each (a header count: 0 when unknown) would be
    kept whole under ``budget`` bytes (default: ``budget_bytes()``)."""
    return 0 < n_frames * frame_bytes <= (budget_bytes() if budget is None else budget)


def cache_key(path: Path) -> CacheKey | None:
    """(resolved path, size, mtime in ns) of a file; None where it cannot be read."""
    try:
        st = path.stat()
        return (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return None


class FrameCache:
    """Whole decoded videos (tuples of read-only HxWx3 uint8 frames), least recently used out first."""

    def __init__(self) -> None:
        self._entries: OrderedDict[CacheKey, tuple[np.ndarray, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey | None) -> tuple[np.ndarray, ...] | None:
        if key is None:
            return None
        with self._lock:
            frames = self._entries.get(key)
            if frames is not None:
                self._entries.move_to_end(key)
            return frames

    def put(self, key: CacheKey | None, frames: list[np.ndarray]) -> None:
        """Keep ``frames`` (they become read-only) when they fit the budget, evicting older videos."""
        budget = budget_bytes()
        size = sum(f.nbytes for f in frames)
        if key is None or not frames or size > budget:
            return
        for f in frames:
            f.setflags(write=False)
        with self._lock:
            self._entries[key] = tuple(frames)
            self._entries.move_to_end(key)
            while self._bytes() > budget:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _bytes(self) -> int:
        return sum(f.nbytes for frames in self._entries.values() for f in frames)


FRAMES = FrameCache()
