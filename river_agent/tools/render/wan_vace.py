"""The diffusion renderer: Wan2.1-VACE (diffusers ``WanVACEPipeline``) repaints only the changed regions.

For every chunk of frames it gives the pipeline the video (with a hint in the changed regions), the mask video
(white = repaint) and a text prompt built from D'. Long videos go in overlapping chunks: the first frames of a
chunk are the previous chunk's output with a black mask, so the pipeline continues them. The generated frames
are resized back and composited with a feathered mask, so pixels outside the changed regions stay the source's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from river_agent.tools.render.background import BackgroundModel, dilate
from river_agent.tools.render.base import RenderError, RenderResult, RenderUnsupportedError
from river_agent.tools.render.classical import ClassicalConfig, ClassicalRenderer, normalise_ops
from river_agent.tools.render.conditioning import Conditioning
from river_agent.tools.render.entry import ConditionedRenderer, probe
from river_agent.tools.render.outputs import RenderOutputs
from river_agent.tools.render.progress import progress_bar
from river_agent.video.io import VideoInfo, iter_frames

DEFAULT_MODEL = "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
NEGATIVE = "blurry, low quality, distorted, artifacts, flickering, watermark, text, deformed, static, overexposed"


@dataclass
class WanVaceConfig:
    """Settings of the Wan2.1-VACE renderer."""

    model: str = field(
        default=DEFAULT_MODEL, metadata={"help": "Local diffusers folder or hub id of the weights."}
    )
    device: str = field(default="auto", metadata={"help": "'auto' (cuda when available), 'cuda', 'cpu', ..."})
    dtype: str = field(default="auto", metadata={"help": "'auto' (bfloat16 on GPU, float32 on CPU), or a dtype."})
    cpu_offload: bool = field(default=False, metadata={"help": "Enable model CPU offload (saves GPU memory)."})
    num_inference_steps: int = field(default=30, metadata={"help": "Denoising steps."})
    guidance: float = field(default=5.0, metadata={"help": "Classifier-free guidance scale."})
    seed: int = field(default=0, metadata={"help": "Random seed (same seed, same output)."})
    height: int = field(default=480, metadata={"help": "Generation height (multiple of 16)."})
    width: int = field(default=832, metadata={"help": "Generation width (multiple of 16)."})
    chunk_frames: int = field(default=81, metadata={"help": "Frames per chunk (4k+1)."})
    overlap: int = field(default=8, metadata={"help": "Frames a chunk shares with the previous one."})
    mask_dilate: int = field(default=8, metadata={"help": "Pixels added around the changed regions."})
    feather: int = field(default=5, metadata={"help": "Blur radius of the compositing mask edge (pixels)."})
    hint: str = field(
        default="auto",
        metadata={
            "help": "Content given inside the mask: 'auto' (classical render when it can, else grey), "
            "'grey', or 'source'."
        },
    )
    negative_prompt: str = field(default=NEGATIVE, metadata={"help": "Negative prompt."})
    max_sequence_length: int = field(default=226, metadata={"help": "Prompt tokens."})
    quality: str = field(default="high", metadata={"help": "Output mp4 quality: 'high' or 'lossless'."})
    comparison: bool = field(default=True, metadata={"help": "Also write a side-by-side video."})
    overlay: bool = field(default=True, metadata={"help": "Also write an overlay video of the changed regions."})
    progress: bool = field(default=True, metadata={"help": "Show progress bars."})


def _check(cfg: WanVaceConfig) -> None:
    if cfg.height % 16 or cfg.width % 16 or cfg.height <= 0 or cfg.width <= 0:
        raise RenderError(f"wan-vace height/width must be positive multiples of 16, got {cfg.height}x{cfg.width}")
    if cfg.chunk_frames < 5 or (cfg.chunk_frames - 1) % 4:
        raise RenderError(f"wan-vace chunk_frames must be 4k+1 and >= 5, got {cfg.chunk_frames}")
    if not 0 <= cfg.overlap < cfg.chunk_frames - 1:
        raise RenderError(f"wan-vace overlap must be in [0, chunk_frames - 1), got {cfg.overlap}")
    if cfg.hint not in ("auto", "grey", "gray", "source"):
        raise RenderError(f"wan-vace hint must be 'auto', 'grey' or 'source', got {cfg.hint!r}")


def _resolve_device_dtype(cfg: WanVaceConfig) -> tuple[str, Any]:
    import torch

    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    name = cfg.dtype
    if name == "auto":
        name = "bfloat16" if device.startswith("cuda") else "float32"
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise RenderError(f"unknown torch dtype {cfg.dtype!r}")
    return device, dtype


def load_pipeline(cfg: WanVaceConfig) -> Any:
    """Load ``WanVACEPipeline`` from ``cfg.model`` (VAE in float32, the rest in ``cfg.dtype``)."""
    import torch
    from diffusers import AutoencoderKLWan, WanVACEPipeline

    device, dtype = _resolve_device_dtype(cfg)
    local = Path(cfg.model).expanduser()
    source = str(local) if local.exists() else cfg.model
    try:
        vae = AutoencoderKLWan.from_pretrained(source, subfolder="vae", dtype=torch.float32)
        pipe = WanVACEPipeline.from_pretrained(source, vae=vae, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise RenderError(
            f"cannot load Wan-VACE weights from {cfg.model!r} ({exc.__class__.__name__}: {str(exc)[:300]}); "
            "give a local diffusers folder (e.g. a download of Wan-AI/Wan2.1-VACE-1.3B-diffusers) "
            "or allow hub access"
        ) from exc
    if cfg.cpu_offload and device.startswith("cuda"):
        pipe.enable_model_cpu_offload()
    else:
        pipe.to(device)
    return pipe


def _chunks(num_frames: int, length: int, overlap: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each chunk; consecutive chunks share ``overlap`` frames."""
    start = 0
    while True:
        end = min(start + length, num_frames)
        yield start, end
        if end >= num_frames:
            return
        start = end - overlap


class WanVaceRenderer(ConditionedRenderer):
    """Repaints the changed regions with Wan2.1-VACE; see ``WanVaceConfig``. ``pipeline`` skips loading."""

    name = "wan-vace"

    def __init__(self, config: WanVaceConfig | None = None, pipeline: Any = None, **overrides: object) -> None:
        self.config = config or WanVaceConfig()
        for k, v in overrides.items():
            if not hasattr(self.config, k):
                raise RenderError(f"unknown wan-vace renderer setting {k!r}")
            setattr(self.config, k, v)
        _check(self.config)
        self._pipe = pipeline

    @property
    def pipeline(self) -> Any:
        if self._pipe is None:
            self._pipe = load_pipeline(self.config)
        return self._pipe

    # -- rendering ------------------------------------------------------------------------------------------
    def _hint_setup(self, video: str | Path, cond: Conditioning, info: VideoInfo) -> tuple[Any, Any, set[int]]:
        """Classical renderer + background model for hints, and the ids it cannot draw (grey hint)."""
        grey: set[int] = set()
        hint = self.config.hint
        if hint != "auto":
            return None, None, grey
        for e in cond.edits:
            try:
                e.ops = normalise_ops(e)
            except RenderUnsupportedError:
                grey.add(e.obj_id)
        classical = ClassicalRenderer(ClassicalConfig(progress=False))
        bg = None
        if cond.needs_fill():
            bg = BackgroundModel(info.num_frames)
            for t, frame in enumerate(iter_frames(video)):
                bg.observe(t, frame, dilate(cond.masks.occupied(t), classical.config.dilate))
        return classical, bg, grey

    def _hint(self, t: int, frame: np.ndarray, region: np.ndarray, cond: Conditioning, setup: tuple) -> np.ndarray:
        classical, bg, grey = setup
        hint = frame.copy()
        if self.config.hint == "source":
            return hint
        if classical is None:  # grey
            hint[region] = 127
            return hint
        plain = Conditioning(
            [e for e in cond.edits if e.obj_id not in grey], cond.masks, cond.width, cond.height, cond.num_frames
        )
        hint, _ = classical.render_frame(t, frame, plain, bg)
        hint = hint.copy()
        for e in cond.edits:
            if e.obj_id in grey:
                m = cond.masks.mask(t, e.obj_id)
                hint[dilate(m, self.config.mask_dilate)] = 127
        return hint

    def render(
        self, video: str | Path, cond: Conditioning, out: str | Path, info: VideoInfo | None = None
    ) -> RenderResult:
        import torch
        from PIL import Image

        start = time.perf_counter()
        cfg = self.config
        info = info or probe(video)
        prompt = cond.prompt()
        negative = ", ".join([cfg.negative_prompt, *(e.category for e in cond.edits if e.removed)])
        setup = self._hint_setup(video, cond, info)
        pipe = self.pipeline
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=not cfg.progress)
        W, H = cfg.width, cfg.height
        generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
        writer = RenderOutputs(
            out, video, info.fps, info.width, info.height, cfg.quality, cfg.comparison, cfg.overlay
        )
        frames_iter = enumerate(iter_frames(video))
        pending: list[tuple[int, np.ndarray]] = []
        context: list[np.ndarray] = []  # model-size output frames carried into the next chunk
        chunks = list(_chunks(info.num_frames, cfg.chunk_frames, cfg.overlap))
        with writer, progress_bar("wan-vace chunks", len(chunks), cfg.progress) as advance:
            for start_t, end_t in chunks:
                n_ctx = len(context)
                want = end_t - start_t - n_ctx
                while len(pending) < want:
                    pending.append(next(frames_iter))
                batch, pending = pending[:want], pending[want:]
                regions = [dilate(cond.change_mask(t), cfg.mask_dilate) for t, _ in batch]
                if not any(r.any() for r in regions):
                    outs = [f for _, f in batch]
                else:
                    vids, masks = [], []
                    for c in context:
                        vids.append(c)
                        masks.append(np.zeros((H, W), np.uint8))
                    for (t, frame), region in zip(batch, regions, strict=True):
                        hint = self._hint(t, frame, region, cond, setup)
                        vids.append(cv2.resize(hint, (W, H), interpolation=cv2.INTER_AREA))
                        masks.append(
                            cv2.resize(region.astype(np.uint8) * 255, (W, H), interpolation=cv2.INTER_NEAREST)
                        )
                    n = len(vids)
                    padded = n + (-(n - 1)) % 4  # the pipeline needs 4k+1 frames
                    vids += [vids[-1]] * (padded - n)
                    masks += [masks[-1]] * (padded - n)
                    try:
                        result = pipe(
                            prompt=prompt,
                            negative_prompt=negative,
                            video=[Image.fromarray(v) for v in vids],
                            mask=[Image.fromarray(m) for m in masks],
                            height=H,
                            width=W,
                            num_frames=padded,
                            num_inference_steps=cfg.num_inference_steps,
                            guidance_scale=cfg.guidance,
                            generator=generator,
                            output_type="np",
                            max_sequence_length=cfg.max_sequence_length,
                        )
                    except torch.cuda.OutOfMemoryError as exc:
                        raise RenderError(
                            "wan-vace ran out of GPU memory: lower chunk_frames or height/width, "
                            "or set cpu_offload"
                        ) from exc
                    gen = np.clip(np.rint(np.asarray(result.frames[0])[:n] * 255), 0, 255).astype(np.uint8)
                    outs = []
                    for (_, frame), region, g in zip(batch, regions, gen[n_ctx:], strict=True):
                        outs.append(self._composite(frame, g, region))
                    context_gen = gen
                for (_, frame), o, region in zip(batch, outs, regions, strict=True):
                    writer.write(frame, o, region | (np.abs(o.astype(np.int16) - frame).max(axis=2) > 0))
                if cfg.overlap:
                    if any(r.any() for r in regions):
                        tail = list(context_gen[-cfg.overlap :])
                    else:
                        tail = [cv2.resize(o, (W, H), interpolation=cv2.INTER_AREA) for o in outs[-cfg.overlap :]]
                    context = (context + tail)[-cfg.overlap :] if len(tail) < cfg.overlap else tail
                advance()
            writer.check_frames(info.num_frames)
        return writer.result(self.name, prompt, start)

    def _composite(self, source: np.ndarray, generated: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Generated pixels inside ``region`` (feathered edge), source pixels elsewhere, at the source size."""
        h, w = source.shape[:2]
        gen = cv2.resize(generated, (w, h), interpolation=cv2.INTER_CUBIC)
        alpha = region.astype(np.float32)
        f = self.config.feather
        if f > 0:
            alpha = np.maximum(alpha, 0)
            blurred = cv2.GaussianBlur(alpha, (2 * f + 1, 2 * f + 1), 0)
            alpha = np.where(region, np.maximum(blurred, 0.0), 0.0)
            inner = ~dilate(~region, f)  # fully generated away from the edge
            alpha[inner] = 1.0
        a = alpha[..., None]
        return np.clip(np.rint(source * (1 - a) + gen * a), 0, 255).astype(np.uint8)
