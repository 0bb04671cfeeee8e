"""The classical renderer (embedded default, CPU): recolour, remove, move, resize and simple restyles.

Two streaming passes over the video: the first (only when a hole must be filled) tracks global camera motion
and keeps a bounded sample of frames for the background model; the second renders and writes each frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from river_agent.tools.render.aligned import AlignedBackground, AlignedFillConfig
from river_agent.tools.render.appearance import recolor_pixels, restyle, style_kind
from river_agent.tools.render.background import BackgroundModel, dilate
from river_agent.tools.render.base import RenderError, RenderResult, RenderUnsupportedError
from river_agent.tools.render.conditioning import (
    Conditioning,
    ObjectEdit,
    object_affine,
)
from river_agent.tools.render.entry import ConditionedRenderer, probe
from river_agent.tools.render.extent import ExtentTracker
from river_agent.tools.render.fill import FILL_METHODS
from river_agent.tools.render.hidden import HiddenObjects, SampleMasks, complete_self
from river_agent.tools.render.outputs import RenderOutputs
from river_agent.tools.render.palette import color_rgb
from river_agent.tools.render.progress import progress_bar
from river_agent.twin.ops import EditOp, Move, Recolor, Remove, Replace, Resize, Restyle, SetAttribute
from river_agent.video.io import VideoInfo, iter_frames

STYLE_KEYS = ("style", "pattern", "texture")
TEXT_ONLY_KEYS = ("description", "size", "name", "state", "motion", "shape")
DIFFUSION_HINT = "use the diffusion renderer (`--renderer wan-vace`, get_renderer('wan-vace'))"


@dataclass
class ClassicalConfig:
    """Settings of the classical renderer."""

    quality: str = field(
        default="lossless",
        metadata={"help": "Output mp4 quality: 'lossless' (exact RGB) or 'high' (H.264 CRF 12)."},
    )
    comparison: bool = field(default=True, metadata={"help": "Also write a side-by-side video (source | output)."})
    overlay: bool = field(default=True, metadata={"help": "Also write an overlay video of the changed regions."})
    bg_samples: int = field(
        default=24, metadata={"help": "Frames kept for the background model (bounds memory for long videos)."}
    )
    dilate: int = field(default=2, metadata={"help": "Pixels added around holes (covers anti-aliased edges)."})
    complete_hidden: bool = field(
        default=True,
        metadata={"help": "Complete objects the removed/moved target hid (needs every object's masks)."},
    )
    fill: str = field(
        default="exemplar",
        metadata={
            "help": "How background no frame shows is made up: 'exemplar' (real texture copied from a matching "
            "place of the frame, seams corrected) or 'telea' (cv2.inpaint, smooth)."
        },
    )
    aligned_fill: bool = field(
        default=True,
        metadata={
            "help": "Fill holes first from other frames of the shot re-projected by the camera homography "
            "(nearest frames, ranked by how well they match the ring around the hole; needs every object's "
            "masks), then the consensus model and spatial fill."
        },
    )
    aligned_frames: int = field(
        default=48, metadata={"help": "Frames kept for the aligned fill (evenly spaced; bounds memory)."}
    )
    inpaint_radius: int = field(default=5, metadata={"help": "cv2.inpaint radius (fill='telea', small holes)."})
    progress: bool = field(default=True, metadata={"help": "Show a progress bar."})


def _unsupported(edit: ObjectEdit, what: str) -> RenderUnsupportedError:
    return RenderUnsupportedError(
        f"the classical renderer cannot render {what} (object {edit.obj_id}, {edit.category}); {DIFFUSION_HINT}"
    )


def normalise_ops(edit: ObjectEdit) -> list[EditOp]:
    """The ops of one object as the classical renderer draws them; raises RenderUnsupportedError otherwise."""
    out: list[EditOp] = []
    skipped: list[str] = []
    for op in edit.ops:
        if isinstance(op, Replace):
            raise _unsupported(edit, f"a replacement with another kind of thing ({op.category!r})")
        if isinstance(op, Restyle):
            if style_kind(op.style) is None:
                raise _unsupported(
                    edit,
                    f"the style {op.style!r} (it can draw plain, striped, dotted, "
                    "checkered, glowing, grayscale, inverted)",
                )
            out.append(op)
        elif isinstance(op, Recolor):
            color_rgb(op.color, op.rgb)  # fails early on unknown colour names
            out.append(op)
        elif isinstance(op, SetAttribute):
            if op.key == "color":
                out.append(Recolor(id=op.id, color=op.value, rgb=color_rgb(op.value), frames=op.frames))
            elif op.key in STYLE_KEYS:
                out.append(Restyle(id=op.id, style=op.value, frames=op.frames))
                normalise_ops(ObjectEdit(edit.obj_id, edit.category, [out[-1]]))
            elif op.key in TEXT_ONLY_KEYS:
                skipped.append(f"{op.key}={op.value!r}")
            else:
                raise _unsupported(edit, f"the attribute change {op.key}={op.value!r}")
        else:
            out.append(op)
    if not out and skipped:
        raise _unsupported(edit, f"the attribute change {', '.join(skipped)} with no visible edit")
    return out


class ClassicalRenderer(ConditionedRenderer):
    """Renders edits with classical image operations; see ``ClassicalConfig``."""

    name = "classical"

    def __init__(self, config: ClassicalConfig | None = None, **overrides: object) -> None:
        self.config = config or ClassicalConfig()
        for k, v in overrides.items():
            if not hasattr(self.config, k):
                raise RenderError(f"unknown classical renderer setting {k!r}")
            setattr(self.config, k, v)
        if self.config.quality not in ("lossless", "high"):
            raise RenderError("quality must be 'lossless' or 'high'")
        if self.config.fill not in FILL_METHODS:
            raise RenderError(f"fill must be one of {', '.join(FILL_METHODS)}, got {self.config.fill!r}")

    # -- rendering ------------------------------------------------------------------------------------------
    def render(
        self, video: str | Path, cond: Conditioning, out: str | Path, info: VideoInfo | None = None
    ) -> RenderResult:
        start = time.perf_counter()
        info = info or probe(video)
        plans = {e.obj_id: normalise_ops(e) for e in cond.edits}
        for e in cond.edits:
            e.ops = plans[e.obj_id]
        cfg = self.config
        _whole_extents(cond, info.width, info.height)
        bg = None
        aligned = None
        hidden = None
        sample_masks = None
        if cond.needs_fill():
            if cfg.aligned_fill and cond.masks.objects_known:
                aligned = AlignedBackground(info.num_frames, AlignedFillConfig(max_frames=cfg.aligned_frames))
            bg = BackgroundModel(
                info.num_frames,
                cfg.bg_samples,
                cfg.inpaint_radius,
                objects_known=cond.masks.objects_known,
                fill_method=cfg.fill,
            )
            with progress_bar("background model", info.num_frames, cfg.progress) as advance:
                for t, frame in enumerate(iter_frames(video)):
                    exclude = dilate(cond.masks.occupied(t), cfg.dilate)
                    bg.observe(t, frame, exclude)
                    if aligned is not None:
                        aligned.observe(t, frame, exclude)
                    advance()
            if cfg.complete_hidden and cond.masks.objects_known:
                hidden = HiddenObjects(cond.masks.id_map, bg.samples)
            moving = sum(1 for e in cond.edits if not e.removed)
            sample_masks = SampleMasks(cond.masks.mask, max(1, moving) * (len(bg.wanted) + 1))
        writer = RenderOutputs(
            out, video, info.fps, info.width, info.height, cfg.quality, cfg.comparison, cfg.overlay
        )
        with writer, progress_bar("rendering", info.num_frames, cfg.progress) as advance:
            for t, frame in enumerate(iter_frames(video)):
                output, changed = self.render_frame(t, frame, cond, bg, hidden, sample_masks, aligned)
                writer.write(frame, output, changed)
                advance()
            writer.check_frames(info.num_frames)
        return writer.result(self.name, cond.prompt(), start)

    def render_frame(
        self,
        t: int,
        frame: np.ndarray,
        cond: Conditioning,
        bg: BackgroundModel | None,
        hidden: HiddenObjects | None = None,
        sample_masks: SampleMasks | None = None,
        aligned: AlignedBackground | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The edited frame ``t`` and the pixels that changed (``hidden``: completes objects the target hid;
        ``aligned``: fills what other frames of the shot see before the background model)."""
        H, W = frame.shape[:2]
        active = cond.active(t)
        changed = np.zeros((H, W), bool)
        if not active:
            return frame, changed
        placed = []
        hole = np.zeros((H, W), bool)
        for edit, m in active:
            aff = None if edit.removed else object_affine(edit, t, m, W, H)
            if edit.removed or aff is not None:
                hole |= m
            placed.append((edit, m, aff))
        if hole.any():
            if bg is None:
                raise RenderError("internal: a hole to fill but no background model")
            targets = np.zeros((H, W), bool)
            for _, m, _ in placed:
                targets |= m
            others = cond.masks.occupied(t) & ~targets  # known objects next to the hole keep their edge pixels
            hole = (dilate(hole, self.config.dilate) & ~others) | hole
            out, rest = frame, hole
            if aligned is not None:
                out, seen = aligned.fill(t, frame, hole, others)
                rest = hole & ~seen
            out = bg.fill(t, out, rest, others) if rest.any() else out
            if hidden is not None:
                hidden.complete(t, frame, out, hole, targets)
        else:
            out = frame.copy()
        changed |= hole
        for edit, m, aff in placed:
            if edit.removed:
                continue
            ys, xs = np.nonzero(m)
            anchor = (float(xs.mean()), float(ys.mean()))
            ops = edit.active_ops(t)
            if aff is None:
                out[m] = frame[m]
                _appearance(out, m, ops, anchor, edit.boxes.get(t))
                changed |= m
            else:
                obj, visible = frame, m
                if bg is not None and self.config.complete_hidden:  # arrive whole: parts hidden here too
                    at = partial(sample_masks or cond.masks.mask, obj_id=edit.obj_id)
                    obj, m = complete_self(t, frame, m, at, bg.samples)
                    if m.sum() > visible.sum() and any(isinstance(op, Resize) for op in ops):
                        aff = object_affine(edit, t, m, W, H)  # about the fuller object's centroid
                obj = obj.copy()
                _appearance(obj, m, ops, anchor, edit.boxes.get(t))
                scale_change = abs(aff[0, 0] - 1) > 1e-9
                interp = cv2.INTER_LINEAR if scale_change else cv2.INTER_NEAREST
                moved = cv2.warpAffine(obj, aff, (W, H), flags=interp)
                mw = cv2.warpAffine(m.astype(np.float32), aff, (W, H), flags=cv2.INTER_LINEAR) >= 0.5
                front = _in_front(cond, t, edit.obj_id, visible)
                if front is not None:
                    mw &= ~front  # nearer objects stay in front of the moved/resized one
                out[mw] = moved[mw]
                changed |= visible | mw
        changed |= _differs(out, frame, changed)
        return out, changed


def _whole_extents(cond: Conditioning, width: int, height: int) -> None:
    """For resized or restyled objects, the whole object's centre and box where the frame edge cuts it (one
    pass over the masks only: a few numbers per frame)."""
    edits = [e for e in cond.edits if any(isinstance(op, Resize | Restyle) for op in e.ops)]
    if not edits:
        return
    extent = ExtentTracker(width, height)
    for t in range(cond.num_frames):
        for e in edits:
            extent.observe(t, e.obj_id, cond.masks.mask(t, e.obj_id))
    for e in edits:
        e.centres = extent.centres(e.obj_id)
        e.boxes = extent.boxes(e.obj_id)


def _in_front(cond: Conditioning, t: int, obj_id: int, mask: np.ndarray) -> np.ndarray | None:
    """Pixels of frame ``t`` that objects nearer than the edited one cover (None when depths are unknown)."""
    ids = cond.masks.id_map(t)
    depths = cond.masks.depths(t)
    if ids is None or not depths:
        return None
    inside = ids[mask]
    if obj_id not in depths or not (inside == obj_id).any():  # target masks: the twin object they cover
        vals, counts = np.unique(inside[inside > 0], return_counts=True)
        if vals.size == 0:
            return None
        obj_id = int(vals[counts.argmax()])
    d = depths.get(obj_id)
    if d is None:
        return None
    nearer = [j for j, dj in depths.items() if j != obj_id and dj < d]
    return np.isin(ids, nearer) if nearer else None


def _differs(a: np.ndarray, b: np.ndarray, near: np.ndarray, margin: int = 16) -> np.ndarray:
    """Pixels where ``a`` and ``b`` differ, looked for only around ``near`` (a glow may reach past a mask)."""
    out = np.zeros(near.shape, bool)
    ys, xs = np.nonzero(near)
    if ys.size == 0:
        return out
    h, w = near.shape
    y0, y1 = max(ys.min() - margin, 0), min(ys.max() + 1 + margin, h)
    x0, x1 = max(xs.min() - margin, 0), min(xs.max() + 1 + margin, w)
    out[y0:y1, x0:x1] = (a[y0:y1, x0:x1] != b[y0:y1, x0:x1]).any(axis=2)
    return out


def _appearance(
    img: np.ndarray,
    mask: np.ndarray,
    ops: list[EditOp],
    anchor: tuple[float, float],
    box: tuple[int, int, int, int] | None = None,
) -> None:
    """Apply recolours and restyles of ``ops`` to the masked pixels of ``img`` in place."""
    for op in ops:
        if isinstance(op, Recolor):
            img[mask] = recolor_pixels(img[mask], color_rgb(op.color, op.rgb))
        elif isinstance(op, Restyle):
            restyle(img, img.copy(), mask, op.style, anchor, box)
        elif not isinstance(op, Move | Resize | Remove):
            raise RenderError(f"internal: unexpected op {op!r}")
