"""Loaders that turn published video-editing benchmarks into cases of the shared format (rve-case/1).

FiVE-Bench (Li et al., ICCV 2025; github.com/MinghanLi/FiVE-Bench, data on Hugging Face as
``LIMinghan/FiVE-Fine-Grained-Video-Editing-Benchmark``), laid out as its README shows::

    data/edit_prompt/edit{1..6}_FiVE.json   list of entries: video_name, source_prompt, target_prompt (edited
                                             words in [brackets]), editing_type_id, save_dir, ... (optional
                                             edit_instruction / instruction)
    data/images/<video_name>/00000.jpg ...  source frames
    data/bmasks/<video_name>/00000.jpg ...  binary masks of the edited object

editing_type_id: 1 rigid replacement, 2 non-rigid replacement, 3 colour, 4 material, 5 addition, 6 removal.
Types 1/2 -> ``replace``, 3 -> ``recolor`` (when the colour word is known), 4 -> ``restyle``, 6 -> ``remove``;
5 (addition) has no op in the case format and is skipped (counted in the summary).

VEGGIE-Bench (Yu et al. 2025, ``Shoubin/VEGGIE-Bench`` on Hugging Face): its dataset card is empty, so its file
layout could not be checked. The loader reads a manifest (``.json`` list, ``.jsonl`` or ``.csv``) whose rows
have ``video`` (a file or frame folder), ``instruction``, optionally ``task`` (Color / Removal / Swap / Style /
Env / Addition / Grounding / Reasoning) and ``mask`` (a folder of per-frame binary masks). Rows without masks, or
with tasks that have no op in the case format, are skipped and counted.

Cases point at the source frames with relative paths (nothing is copied); masks are rewritten as
``target_masks/00000.png ...``.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from river_agent.bench.cases import CASE_FORMAT
from river_agent.bench.scene import PALETTE
from river_agent.errors import RiverError
from river_agent.fsutil import atomic_dir
from river_agent.video.io import probe_video

IMAGE_EXT = (".png", ".jpg", ".jpeg")
EXTRA_COLORS = {
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "gold": (212, 175, 55),
    "silver": (192, 192, 192),
    "cyan": (0, 200, 200),
}


class LoaderError(RiverError):
    """A benchmark folder does not have the expected layout."""


@dataclass
class LoadSummary:
    written: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def _frames_in(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXT]

    def key(p: Path) -> tuple[int, str]:
        m = re.search(r"(\d+)$", p.stem)
        return (int(m.group(1)) if m else -1, p.name)

    return sorted(files, key=key)


def _write_masks(mask_files: list[Path], out: Path, n: int, w: int, h: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for t in range(n):
        m = np.zeros((h, w), np.uint8)
        if t < len(mask_files):
            img = cv2.imread(str(mask_files[t]), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise LoaderError(f"{mask_files[t]}: unreadable mask")
            if img.shape != (h, w):
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST)
            m = np.where(img > 127, 255, 0).astype(np.uint8)
        cv2.imwrite(str(out / f"{t:05d}.png"), m)


def _write_case(out_dir: Path, case: dict[str, Any], video: Path, mask_files: list[Path]) -> Path:
    """Write one case folder (case.json + target_masks/), pointing at ``video`` by a relative path."""
    info = probe_video(video)
    final = out_dir / case["id"]
    with atomic_dir(final) as tmp:
        _write_masks(mask_files, tmp / "target_masks", info.num_frames, info.width, info.height)
        case = {
            "format": CASE_FORMAT,
            **case,
            "video": os.path.relpath(video.resolve(), final.resolve()),
            "target_masks": "target_masks",
        }
        (tmp / "case.json").write_text(json.dumps(case, indent=1), encoding="utf-8")
    return final


def _bracketed(prompt: str) -> str | None:
    m = re.search(r"\[([^\]]+)\]", prompt or "")
    return m.group(1).strip() if m else None


def _color_rgb(word: str) -> tuple[str, list[int]] | None:
    for name in word.lower().split():
        if name in PALETTE:
            return name, list(PALETTE[name])
        if name in EXTRA_COLORS:
            return name, list(EXTRA_COLORS[name])
    return None


def five_edit(entry: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(case edit, query) for one FiVE entry; edit None when the type has no op in the case format."""
    etype = int(entry.get("editing_type_id", 0))
    src_word = _bracketed(entry.get("source_prompt", "")) or "the object"
    tgt_word = _bracketed(entry.get("target_prompt", "")) or ""
    instruction = entry.get("edit_instruction") or entry.get("instruction")
    if etype in (1, 2):
        edit: dict[str, Any] | None = {"op": "replace", "category": tgt_word or "object"}
        query = instruction or f"Replace the {src_word} with a {tgt_word}."
    elif etype == 3:
        col = _color_rgb(tgt_word)
        edit = {"op": "recolor", "color": col[0], "rgb": col[1]} if col else {"op": "restyle", "style": tgt_word}
        query = instruction or f"Make the {src_word} {tgt_word}."
    elif etype == 4:
        edit = {"op": "restyle", "style": tgt_word}
        query = instruction or f"Make the {src_word} look like {tgt_word}."
    elif etype == 6:
        edit = {"op": "remove"}
        query = instruction or f"Remove the {src_word}."
    else:
        edit, query = None, instruction or ""
    return edit, query


def load_five(root: str | Path, out_dir: str | Path, limit: int = 0) -> LoadSummary:
    """Convert a FiVE-Bench data folder into case folders under ``out_dir``."""
    root, out_dir = Path(root), Path(out_dir)
    prompt_dir = root / "edit_prompt"
    files = sorted(prompt_dir.glob("edit*_FiVE*.json")) if prompt_dir.is_dir() else []
    if not files:
        raise LoaderError(f"{root}: no edit_prompt/edit*_FiVE.json (is this FiVE-Bench's data folder?)")
    summary = LoadSummary()
    for f in files:
        entries = json.loads(f.read_text(encoding="utf-8"))
        for k, entry in enumerate(entries):
            if limit and len(summary.written) >= limit:
                return summary
            name = str(entry.get("video_name", ""))
            frames, masks = root / "images" / name, root / "bmasks" / name
            video = frames if frames.is_dir() else root / "videos" / f"{name}.mp4"
            if not video.exists() or not masks.is_dir():
                summary.skip("missing frames or masks")
                continue
            edit, query = five_edit(entry)
            if edit is None:
                summary.skip(f"editing_type_id {entry.get('editing_type_id')} has no case op")
                continue
            case = {
                "id": f"five-{f.stem.split('_')[0]}-{k:03d}-{name}",
                "query": query,
                "level": 1,
                "category": "semantic",
                "edit": edit,
                "source": "FiVE-Bench",
                "target_prompt": str(entry.get("target_prompt", "")).replace("[", "").replace("]", ""),
                "target_phrase": _bracketed(entry.get("source_prompt", "")) or "",
                "needs_generative": edit["op"] in ("replace", "restyle"),
            }
            summary.written.append(_write_case(out_dir, case, video, _frames_in(masks)).name)
    return summary


VEGGIE_TASKS = {
    "color": "recolor",
    "removal": "remove",
    "remove": "remove",
    "swap": "replace",
    "replace": "replace",
}


def _read_manifest(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else data.get("data", [])


def veggie_edit(task: str, instruction: str) -> dict[str, Any] | None:
    op = VEGGIE_TASKS.get(task.strip().lower())
    if op == "recolor":
        col = _color_rgb(" ".join(re.findall(r"[a-zA-Z]+", instruction)))
        return {"op": "recolor", "color": col[0], "rgb": col[1]} if col else None
    if op == "replace":
        m = re.search(r"with (?:a |an |the )?([a-zA-Z ]+?)[.!]?$", instruction.strip())
        return {"op": "replace", "category": m.group(1) if m else "object"}
    if op == "remove":
        return {"op": "remove"}
    return None


def load_veggie(manifest: str | Path, out_dir: str | Path, limit: int = 0) -> LoadSummary:
    """Convert VEGGIE-Bench rows (see the module docstring) into case folders under ``out_dir``."""
    manifest, out_dir = Path(manifest), Path(out_dir)
    if not manifest.is_file():
        raise LoaderError(f"{manifest}: no such manifest (.json / .jsonl / .csv)")
    base = manifest.parent
    summary = LoadSummary()
    for k, row in enumerate(_read_manifest(manifest)):
        if limit and len(summary.written) >= limit:
            break
        video = base / str(row.get("video") or row.get("video_path") or "")
        instruction = str(row.get("instruction") or row.get("prompt") or "")
        mask = row.get("mask") or row.get("mask_dir")
        if not video.exists() or not mask or not (base / str(mask)).is_dir():
            summary.skip("missing video or masks")
            continue
        edit = veggie_edit(str(row.get("task", "")), instruction)
        if edit is None:
            summary.skip(f"task {row.get('task')!r} has no case op")
            continue
        task = str(row.get("task", "")).lower()
        case = {
            "id": f"veggie-{k:04d}",
            "query": instruction,
            "level": 2 if task == "reasoning" else 1,
            "category": "semantic",
            "edit": edit,
            "source": "VEGGIE-Bench",
            "needs_generative": edit["op"] == "replace",
        }
        summary.written.append(_write_case(out_dir, case, video, _frames_in(base / str(mask))).name)
    return summary
