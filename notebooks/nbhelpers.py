"""Small helpers shared by the notebooks: where outputs go, the small mode, frames and contact sheets.

``RIVER_NOTEBOOK_SMALL=1`` switches every notebook to tiny inputs (what the test suite runs);
``RIVER_NOTEBOOK_OUT`` says where outputs go (default: ``out/notebooks/`` in the repository).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the notebooks import the package (and, in small mode, a test double) from here
    sys.path.insert(0, str(REPO))

SMALL = os.environ.get("RIVER_NOTEBOOK_SMALL") == "1"
MINI_SUITE = REPO / "tests" / "fixtures" / "rve-synth-mini"  # the RVE-Synth clips bundled with the repository
THREADS = int(os.environ.get("RIVER_NOTEBOOK_THREADS", "1" if SMALL else "2"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def out_dir(name: str) -> Path:
    """The folder a notebook writes to (created)."""
    base = Path(os.environ.get("RIVER_NOTEBOOK_OUT", REPO / "out" / "notebooks"))
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def spread(n: int, k: int) -> list[int]:
    """``k`` frame indices spread evenly over ``n`` frames."""
    k = max(1, min(k, n))
    return sorted({round(i * (n - 1) / max(1, k - 1)) for i in range(k)})


def frames_at(video: str | Path, ts: Sequence[int]) -> dict[int, np.ndarray]:
    """Frames ``ts`` of a video as RGB arrays (one pass, stops after the last)."""
    from river_agent.video.io import iter_frames

    wanted, got = set(ts), {}
    for t, frame in enumerate(iter_frames(video)):
        if t in wanted:
            got[t] = frame
        if t >= max(wanted):
            break
    return got


def twin_overlay(frame: np.ndarray, twin, t: int) -> np.ndarray:
    """Frame ``t`` with the twin's masks tinted per id, outlined and labelled (as ``river twin`` draws them)."""
    from river_agent.tools.perception.overlay import draw_overlay
    from river_agent.twin.io import label_map

    record = next(f for f in twin.frames if f.t == t)
    return draw_overlay(frame, label_map(twin, t), record)


def titled(img: np.ndarray, title: str, scale: float = 0.4) -> np.ndarray:
    """``img`` with a white title bar above it."""
    bar = np.full((18, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)
    return np.vstack([bar, img])


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], path: str | Path, gap: int = 4) -> Path:
    """Write a grid of RGB images (rows of equal-height tiles) as a PNG; returns its path."""
    h = max(t.shape[0] for row in rows for t in row)
    w = max(t.shape[1] for row in rows for t in row)
    cols = max(len(row) for row in rows)
    sheet = np.full((len(rows) * (h + gap) + gap, cols * (w + gap) + gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            y, x = gap + r * (h + gap), gap + c * (w + gap)
            sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.ascontiguousarray(sheet[..., ::-1]))
    return path


def upscale(img: np.ndarray, min_width: int = 320) -> np.ndarray:
    """Nearest-neighbour upscale of small frames so details stay visible in a notebook."""
    f = max(1, int(np.ceil(min_width / img.shape[1])))
    return cv2.resize(img, (img.shape[1] * f, img.shape[0] * f), interpolation=cv2.INTER_NEAREST) if f > 1 else img
