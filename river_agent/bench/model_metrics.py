"""Model-based metrics behind one small interface; each is active only when its weights are configured.

Definitions (pinned):

- ``clip_text``: 100 x cosine(image embedding, text embedding), averaged over output frames, with CLIP
  (clip-vit-large-patch14 by default) as in FiVE-Bench ``evaluation/metrics_calculator.py``. The text is the
  case's ``target_prompt`` when it has one (FiVE / VegGIE loaders set it), else its query.
- ``clip_f``: 100 x mean cosine of the CLIP image embeddings of consecutive output frames (frame consistency).
  ``clip_f_all_pairs``: the mean over all frame pairs, which is how loveu-tgve's ``scripts/run_eval.py`` (as
  ported by mindone) averages it; both are reported.
- ``musiq``: pyiqa's MUSIQ no-reference quality, mean over sampled frames (needs ``pip install pyiqa`` and its
  weights on disk).
- ``gdino_iou``: GroundingDINO (transformers) boxes for the target phrase on sampled output frames; IoU of the
  best box with the reference region's bounding box (where the edit should be).
- ``judge``: an MLLM judge through litellm, shown source and output frames and the query; returns 0-10.

Configuration (environment): ``RIVER_CLIP_MODEL``, ``RIVER_GDINO_MODEL`` (paths or hub ids; offline runs need
local folders), ``RIVER_MUSIQ=1``, ``RIVER_JUDGE_MODEL`` (+ ``RIVER_JUDGE_API_BASE``). Unconfigured metrics are
reported as ``"not configured"``; a metric that fails on a case records its error and never stops the run.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

NOT_CONFIGURED = "not configured"


class ModelMetric(Protocol):
    name: str

    def compute(self, case: Any, src: np.ndarray, out: np.ndarray, masks: np.ndarray) -> dict[str, Any]: ...


def sample_indices(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def case_text(case: Any) -> str:
    return str(getattr(case, "target_prompt", None) or getattr(case, "query", ""))


def target_phrase(case: Any) -> str:
    return str(getattr(case, "target_phrase", None) or case_text(case))


class ClipMetric:
    """CLIP-Text and CLIP-F from a transformers ``CLIPModel`` + processor (or tokenizer + image processor)."""

    name = "clip"

    def __init__(self, model: Any, tokenizer: Any, image_processor: Any, max_frames: int = 16):
        self.model, self.tokenizer, self.image_processor = model.eval(), tokenizer, image_processor
        self.max_frames = max_frames

    @classmethod
    def from_pretrained(cls, path: str) -> ClipMetric:
        from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

        return cls(
            CLIPModel.from_pretrained(path),
            CLIPTokenizer.from_pretrained(path),
            CLIPImageProcessor.from_pretrained(path),
        )

    def _embed_images(self, frames: np.ndarray) -> Any:
        import torch

        px = self.image_processor(images=list(frames), return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            feats = self.model.get_image_features(pixel_values=px)
        if not isinstance(feats, torch.Tensor):
            feats = feats.pooler_output
        return torch.nn.functional.normalize(feats, dim=-1)

    def _embed_text(self, text: str) -> Any:
        import torch

        tok = self.tokenizer([text], padding=True, truncation=True, max_length=77, return_tensors="pt")
        with torch.no_grad():
            feats = self.model.get_text_features(
                input_ids=tok["input_ids"], attention_mask=tok.get("attention_mask")
            )
        if not isinstance(feats, torch.Tensor):
            feats = feats.pooler_output
        return torch.nn.functional.normalize(feats, dim=-1)

    def scores(self, frames: np.ndarray, text: str) -> dict[str, float]:
        idx = sample_indices(len(frames), self.max_frames)
        img = self._embed_images(frames[idx])
        txt = self._embed_text(text)
        clip_text = float((img @ txt.T).mean()) * 100
        if len(idx) > 1:
            consecutive = float((img[1:] * img[:-1]).sum(-1).mean()) * 100
            sim = img @ img.T
            k = sim.shape[0]
            all_pairs = float((sim.sum() - sim.diagonal().sum()) / (k * (k - 1))) * 100
        else:
            consecutive = all_pairs = 100.0
        return {
            "clip_text": round(clip_text, 3),
            "clip_f": round(consecutive, 3),
            "clip_f_all_pairs": round(all_pairs, 3),
        }

    def compute(self, case: Any, src: np.ndarray, out: np.ndarray, masks: np.ndarray) -> dict[str, Any]:
        return self.scores(out, case_text(case))


class MusiqMetric:
    """pyiqa MUSIQ (optional dependency)."""

    name = "musiq"

    def __init__(self, max_frames: int = 4):
        import pyiqa  # optional dependency: ImportError -> "not configured"

        self.metric = pyiqa.create_metric("musiq", device="cpu")
        self.max_frames = max_frames

    def compute(self, case: Any, src: np.ndarray, out: np.ndarray, masks: np.ndarray) -> dict[str, Any]:
        import torch

        vals = []
        for t in sample_indices(len(out), self.max_frames):
            x = torch.from_numpy(out[t]).permute(2, 0, 1)[None].float() / 255.0
            vals.append(float(self.metric(x)))
        return {"musiq": round(float(np.mean(vals)), 3)}


def _bbox(mask: np.ndarray) -> list[float] | None:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def box_iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class GroundingDinoMetric:
    """GroundingDINO localization: does the phrase land where the edit should be?"""

    name = "gdino"

    def __init__(self, model: Any, processor: Any, max_frames: int = 4, box_threshold: float = 0.0):
        self.model, self.processor = model.eval(), processor
        self.max_frames, self.box_threshold = max_frames, box_threshold

    @classmethod
    def from_pretrained(cls, path: str) -> GroundingDinoMetric:
        from transformers import AutoProcessor, GroundingDinoForObjectDetection

        return cls(GroundingDinoForObjectDetection.from_pretrained(path), AutoProcessor.from_pretrained(path))

    def best_box(self, frame: np.ndarray, phrase: str) -> list[float] | None:
        import torch

        inputs = self.processor(images=frame, text=phrase.lower().rstrip(".") + ".", return_tensors="pt")
        with torch.no_grad():
            outputs = self.model(**inputs)
        logits = outputs.logits[0].sigmoid().max(-1).values  # (num_queries,)
        k = int(logits.argmax())
        if float(logits[k]) < self.box_threshold:
            return None
        cx, cy, w, h = outputs.pred_boxes[0, k].tolist()
        H, W = frame.shape[:2]
        return [(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H]

    def compute(self, case: Any, src: np.ndarray, out: np.ndarray, masks: np.ndarray) -> dict[str, Any]:
        ious = []
        for t in sample_indices(len(out), self.max_frames):
            ref = _bbox(masks[t])
            if ref is None:
                continue
            box = self.best_box(out[t], target_phrase(case))
            ious.append(box_iou(box, ref) if box else 0.0)
        return {"gdino_iou": round(float(np.mean(ious)), 4) if ious else None}


JUDGE_PROMPT = (
    "You judge a video edit. The request was: {query!r}. The first image is a source frame, the second the same "
    "frame after editing. Score 0-10 how well the edit does what was asked to the right object while leaving "
    'everything else unchanged. Answer with JSON only: {{"score": <0-10>, "reason": "<short>"}}'
)


def _png_b64(frame: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".png", frame[..., ::-1])
    return base64.b64encode(buf.tobytes()).decode() if ok else ""


def parse_judge_score(text: str) -> float | None:
    m = re.search(r"\{.*\}", text or "", re.S)
    if m:
        try:
            v = float(json.loads(m.group(0))["score"])
            return max(0.0, min(10.0, v))
        except (ValueError, KeyError, TypeError):
            pass
    m = re.search(r"\b(10|[0-9](?:\.[0-9]+)?)\b", text or "")
    return float(m.group(1)) if m else None


class JudgeMetric:
    """An MLLM judge through litellm (any provider or OpenAI-compatible server)."""

    name = "judge"

    def __init__(self, model: str, api_base: str | None = None, **completion_kwargs: Any):
        self.model, self.api_base, self.kwargs = model, api_base, completion_kwargs

    def compute(self, case: Any, src: np.ndarray, out: np.ndarray, masks: np.ndarray) -> dict[str, Any]:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        area = masks.reshape(len(masks), -1).sum(1)
        t = int(area.argmax()) if area.max() > 0 else len(out) // 2
        content = [{"type": "text", "text": JUDGE_PROMPT.format(query=case.query)}]
        for frame in (src[t], out[t]):
            content.append({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_png_b64(frame)}"}})
        kwargs = dict(self.kwargs)
        if self.api_base:
            kwargs["api_base"] = self.api_base
        resp = litellm.completion(
            model=self.model, messages=[{"role": "user", "content": content}], temperature=0.0, **kwargs
        )
        text = resp.choices[0].message.content or ""
        return {"judge_score": parse_judge_score(text), "judge_raw": text[:300]}


@dataclass
class ModelMetrics:
    """The configured metrics; ``compute`` returns one dict per case with every metric's values or error."""

    metrics: list[Any] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ModelMetrics:
        env = dict(os.environ if env is None else env)
        mm = cls()
        loaders = {
            "clip": ("RIVER_CLIP_MODEL", lambda v: ClipMetric.from_pretrained(v)),
            "gdino": ("RIVER_GDINO_MODEL", lambda v: GroundingDinoMetric.from_pretrained(v)),
            "musiq": ("RIVER_MUSIQ", lambda v: MusiqMetric()),
            "judge": ("RIVER_JUDGE_MODEL", lambda v: JudgeMetric(v, env.get("RIVER_JUDGE_API_BASE"))),
        }
        for name, (var, load) in loaders.items():
            value = env.get(var)
            if not value or value == "0":
                mm.missing[name] = f"{NOT_CONFIGURED} (set {var})"
                continue
            try:
                mm.metrics.append(load(value))
            except Exception as exc:  # missing weights / optional package: report, do not crash the eval
                mm.missing[name] = f"{NOT_CONFIGURED}: {type(exc).__name__}: {str(exc)[:200]}"
        return mm

    def describe(self) -> dict[str, str]:
        out = {m.name: "configured" for m in self.metrics}
        out.update(self.missing)
        return out

    def compute(self, case: Any, src: np.ndarray, out: np.ndarray, masks: np.ndarray) -> dict[str, Any]:
        res: dict[str, Any] = dict(self.missing)
        for m in self.metrics:
            try:
                res.update(m.compute(case, src, out, masks))
            except Exception as exc:  # a model failing on one case is recorded, the run goes on
                res[m.name] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
        return res
