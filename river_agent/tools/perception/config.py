"""Which backend runs each perception stage, and the options of the model-based ones."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from river_agent.errors import RiverError

SEGMENTERS = ("classical", "sam2")
CATEGORISERS = ("classical", "owlv2")
DEPTHS = ("classical", "depth-anything")
DESCRIBERS = ("none", "template", "qwen2.5-vl", "litellm")

DEFAULT_LABELS = ("person", "car", "truck", "bus", "bicycle", "dog", "cat", "bird", "ball", "tree", "house", "box")


@dataclass
class PerceptionConfig:
    """A perception pipeline: one backend name per stage plus the options of model-based backends."""

    segmenter: str = field(default="classical", metadata={"help": f"Instance masks + tracking: {SEGMENTERS}."})
    categoriser: str = field(default="classical", metadata={"help": f"Object categories: {CATEGORISERS}."})
    min_category_confidence: float = field(
        default=0.5,
        metadata={
            "help": "Classical categoriser: below this confidence a track is called 'object' (its best kind "
            "kept as category_guess); 0 always names the nearest kind."
        },
    )
    depth: str = field(default="classical", metadata={"help": f"Relative depth: {DEPTHS}."})
    describer: str = field(default="template", metadata={"help": f"Free-text descriptions: {DESCRIBERS}."})
    device: str = field(default="cpu", metadata={"help": "Torch device for model backends (cpu, cuda, cuda:1)."})
    dtype: str = field(default="float32", metadata={"help": "Torch dtype for model backends (float32, bfloat16)."})
    sam2_checkpoint: str | None = field(default=None, metadata={"help": "SAM 2 checkpoint (.pt) path."})
    sam2_config: str = field(
        default="configs/sam2.1/sam2.1_hiera_t.yaml", metadata={"help": "SAM 2 model config shipped by `sam2`."}
    )
    detector: str = field(
        default="auto", metadata={"help": "Boxes that prompt SAM 2: classical, owlv2 or auto (owlv2 if set)."}
    )
    detect_every: int = field(default=8, metadata={"help": "Re-detect every K frames to pick up new objects."})
    owlv2_model: str | None = field(default=None, metadata={"help": "OWLv2 local path or hub id."})
    labels: tuple[str, ...] = field(default=DEFAULT_LABELS, metadata={"help": "Category names queried by OWLv2."})
    owlv2_threshold: float = field(default=0.2, metadata={"help": "OWLv2 detection score threshold."})
    depth_model: str | None = field(default=None, metadata={"help": "Depth Anything v2 local path or hub id."})
    describer_model: str | None = field(
        default=None, metadata={"help": "Qwen2.5-VL path/hub id, or a litellm model name (e.g. openai/gpt-4o)."}
    )
    api_base: str | None = field(default=None, metadata={"help": "litellm api_base (OpenAI-compatible server)."})
    max_new_tokens: int = field(default=40, metadata={"help": "Length cap of a generated description."})

    def validate(self) -> PerceptionConfig:
        for stage, allowed in (
            ("segmenter", SEGMENTERS),
            ("categoriser", CATEGORISERS),
            ("depth", DEPTHS),
            ("describer", DESCRIBERS),
        ):
            if getattr(self, stage) not in allowed:
                raise RiverError(f"unknown {stage} {getattr(self, stage)!r}; choose one of {', '.join(allowed)}")
        needs = {
            "sam2_checkpoint": self.segmenter == "sam2",
            "owlv2_model": self.categoriser == "owlv2" or self.detector == "owlv2",
            "depth_model": self.depth == "depth-anything",
            "describer_model": self.describer in ("qwen2.5-vl", "litellm"),
        }
        for option, needed in needs.items():
            if needed and not getattr(self, option):
                raise RiverError(f"--{option.replace('_', '-')} is required by the chosen perception backends")
        if not 0.0 <= self.min_category_confidence <= 1.0:
            raise RiverError(f"min_category_confidence must be in [0, 1], got {self.min_category_confidence}")
        return self


PRESETS: dict[str, PerceptionConfig] = {
    "classical": PerceptionConfig(),
    "foundation": PerceptionConfig(
        segmenter="sam2", categoriser="owlv2", depth="depth-anything", describer="qwen2.5-vl", detector="owlv2"
    ),
}


def resolve_config(name_or_config: str | PerceptionConfig, **overrides: object) -> PerceptionConfig:
    """A preset name ('classical', 'foundation') or a config, with non-None overrides applied, validated."""
    if isinstance(name_or_config, PerceptionConfig):
        cfg = name_or_config
    elif name_or_config in PRESETS:
        cfg = PRESETS[name_or_config]
    else:
        raise RiverError(f"unknown perception {name_or_config!r}; presets: {', '.join(PRESETS)}")
    known = {f.name for f in fields(PerceptionConfig)}
    bad = set(overrides) - known
    if bad:
        raise RiverError(f"unknown perception option(s): {', '.join(sorted(bad))}")
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None}).validate()
