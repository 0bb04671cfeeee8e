"""The SQLite checkpointer of rollouts, tuned: WAL journal and synchronous=NORMAL (one fsync per
checkpoint batch instead of per write; a crash of the process loses nothing, a power cut may lose the last
step, which a resumed rollout simply redoes)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def sqlite_checkpointer(path: str | Path) -> Iterator[Any]:
    """A langgraph ``SqliteSaver`` on ``path`` (created with its folder), closed on exit."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        yield SqliteSaver(conn)
    finally:
        conn.close()
