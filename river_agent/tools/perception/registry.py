"""Build each stage's backend from a :class:`PerceptionConfig` (model backends are imported only when chosen)."""

from __future__ import annotations

from river_agent.tools.perception.config import PerceptionConfig
from river_agent.tools.perception.pipeline import Perception


def build_segmenter(cfg: PerceptionConfig):
    if cfg.segmenter == "sam2":
        from river_agent.tools.perception.foundation.sam2_segmenter import Sam2Segmenter

        detector_name = cfg.detector if cfg.detector != "auto" else ("owlv2" if cfg.owlv2_model else "classical")
        return Sam2Segmenter.from_config(cfg, detector=build_detector(cfg, detector_name))
    from river_agent.tools.perception.classical.stabilise import StabilisedSegmenter

    return StabilisedSegmenter()  # the classical segmenter, compensating camera motion when there is any


def build_detector(cfg: PerceptionConfig, name: str):
    if name == "owlv2":
        from river_agent.tools.perception.foundation.owlv2 import Owlv2Detector

        return Owlv2Detector.from_pretrained(
            cfg.owlv2_model, cfg.labels, cfg.owlv2_threshold, device=cfg.device, dtype=cfg.dtype
        )
    from river_agent.tools.perception.foundation.detectors import ForegroundDetector

    return ForegroundDetector()


def build_categoriser(cfg: PerceptionConfig):
    if cfg.categoriser == "owlv2":
        from river_agent.tools.perception.foundation.owlv2 import Owlv2Categoriser, Owlv2Detector

        det = Owlv2Detector.from_pretrained(
            cfg.owlv2_model, cfg.labels, cfg.owlv2_threshold, device=cfg.device, dtype=cfg.dtype
        )
        return Owlv2Categoriser(det)
    from river_agent.tools.perception.classical.categoriser import ShapeCategoriser

    return ShapeCategoriser(min_confidence=cfg.min_category_confidence)


def build_depth(cfg: PerceptionConfig):
    if cfg.depth == "depth-anything":
        from river_agent.tools.perception.foundation.depth_anything import DepthAnythingDepth

        return DepthAnythingDepth.from_pretrained(cfg.depth_model, device=cfg.device, dtype=cfg.dtype)
    from river_agent.tools.perception.classical.depth import PositionOcclusionDepth

    return PositionOcclusionDepth()


def build_describer(cfg: PerceptionConfig):
    if cfg.describer == "none":
        return None
    if cfg.describer == "qwen2.5-vl":
        from river_agent.tools.perception.foundation.qwen_describer import QwenVLDescriber

        return QwenVLDescriber.from_pretrained(
            cfg.describer_model, device=cfg.device, dtype=cfg.dtype, max_new_tokens=cfg.max_new_tokens
        )
    if cfg.describer == "litellm":
        from river_agent.tools.perception.foundation.litellm_describer import LitellmDescriber

        return LitellmDescriber(cfg.describer_model, api_base=cfg.api_base, max_tokens=cfg.max_new_tokens)
    from river_agent.tools.perception.describe import TemplateDescriber

    return TemplateDescriber()


def build(cfg: PerceptionConfig) -> Perception:
    return Perception(build_segmenter(cfg), build_categoriser(cfg), build_depth(cfg), build_describer(cfg))
