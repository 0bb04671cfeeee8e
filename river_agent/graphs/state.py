"""Graph state of the rollout and the registry that keeps twins out of it.

Checkpoints store the whole state at every step, so the state holds only small things: the query, a twin
*handle*, the transcript and its segments, and the outcome. Twins (D and D') live in ``TwinRegistry``; a handle
``path:<file>`` can be re-resolved in a fresh process, so a rollout resumed after a crash finds its twin again.
"""

from __future__ import annotations

import operator
import threading
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

from river_agent.errors import TwinError
from river_agent.twin.io import load_twin, twin_json_path
from river_agent.twin.schema import Twin


class RolloutState(TypedDict, total=False):
    query: str
    twin_key: str
    turn: int
    transcript: str  # the assistant text so far, exactly as the policy sees it
    segments: Annotated[list[dict[str, Any]], operator.add]
    deviations: Annotated[list[dict[str, Any]], operator.add]
    code: str | None
    sandbox: dict[str, Any] | None  # the last sandbox result, until the results node appends it
    edit_text: str | None
    target_ids: list[int] | None
    ops: list[dict[str, Any]] | None
    edited_twin: dict[str, Any] | None  # only when the policy wrote a whole twin (the paper's form)
    edited_key: str | None
    status: str
    reason: str


class TwinRegistry:
    """Process-wide handles for twins: ``path:<twin.json>`` (reloadable) or ``mem:<uuid>`` (this process only)."""

    def __init__(self, max_edited: int = 64) -> None:
        self._twins: dict[str, Twin] = {}
        self._lock = threading.Lock()
        self.max_edited = max_edited  # D' of finished rollouts kept for their callers (oldest dropped first)

    def put(self, twin: Twin | str | Path, key: str | None = None) -> str:
        if not isinstance(twin, Twin):
            path = twin_json_path(twin).resolve()
            key = key or f"path:{path}"
            loaded = load_twin(path)
            with self._lock:
                self._twins[key] = loaded
            return key
        key = key or f"mem:{uuid.uuid4().hex}"
        with self._lock:
            self._twins.pop(key, None)
            self._twins[key] = twin
            if key.startswith("edited:"):
                edited = [k for k in self._twins if k.startswith("edited:")]
                for old in edited[: max(0, len(edited) - self.max_edited)]:
                    del self._twins[old]
        return key

    def get(self, key: str) -> Twin:
        with self._lock:
            twin = self._twins.get(key)
        if twin is not None:
            return twin
        if key.startswith("path:"):
            return self._twins.setdefault(key, load_twin(key[5:]))
        raise TwinError(f"twin handle {key!r} is not known in this process (in-memory twins do not survive it)")

    def drop(self, key: str) -> None:
        with self._lock:
            self._twins.pop(key, None)


TWINS = TwinRegistry()
