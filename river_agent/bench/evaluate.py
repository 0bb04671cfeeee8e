"""``river bench eval``: run a system on every case of a suite, score it, and write the report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from river_agent.bench.cases import Case, list_cases, read_target_masks
from river_agent.bench.score import score_case
from river_agent.bench.systems import SYSTEMS, RiverSystem, SystemRun, run_baseline, run_oracle
from river_agent.errors import RiverError, VideoError
from river_agent.fsutil import write_text_atomic
from river_agent.video.io import probe_video, read_frames


@dataclass
class EvalConfig:
    """Settings of ``river bench eval``."""

    system: str = field(default="oracle", metadata={"help": "oracle | baseline | river"})
    gt_twin: bool = field(default=False, metadata={"help": "river: reason over the case's ground-truth twin"})
    renderer: str = field(default="classical", metadata={"help": "renderer for oracle / baseline / river"})
    limit: int = field(default=0, metadata={"help": "evaluate only the first N cases (0 = all)"})
    model_metrics: bool = field(default=False, metadata={"help": "also compute configured model-based metrics"})
    agent_config: str | None = field(default=None, metadata={"help": "river: AgentConfig file (yaml/json)"})


def _thumb_frame(masks: np.ndarray) -> int:
    area = masks.reshape(masks.shape[0], -1).sum(1)
    return int(area.argmax()) if area.max() > 0 else masks.shape[0] // 2


def _write_png(path: Path, rgb: np.ndarray) -> str:
    import cv2

    cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path.name


def evaluate_case(case: Case, run: SystemRun, case_out: Path, model_metrics: Any = None) -> dict[str, Any]:
    """Score ``run`` on ``case``; a failed run is scored as if it returned the source unchanged."""
    src_info = probe_video(case.video_path)
    src = read_frames(case.video_path)
    n, h, w = src.shape[:3]
    masks = read_target_masks(case, n, h, w)
    expected = None
    if case.expected_path is not None:
        expected = read_frames(case.expected_path)
        if expected.shape != src.shape:
            raise RiverError(f"{case.id}: expected video is {expected.shape}, source is {src.shape}")
    record: dict[str, Any] = {
        "id": case.id,
        "query": case.query,
        "level": case.level,
        "category": case.category,
        "op": case.edit.get("op"),
        "edit": case.edit,
        "ok": run.ok,
        "error": run.error,
        "system_info": run.info,
        "needs_generative": bool(getattr(case, "needs_generative", False)),
    }
    out = src
    if run.ok and run.output is not None:
        try:
            info = probe_video(run.output)
            out = read_frames(run.output)
            if out.shape != src.shape or abs(info.fps - src_info.fps) > 1e-3:
                raise VideoError(
                    f"output is {out.shape[0]} frames {out.shape[2]}x{out.shape[1]} @ {info.fps:g} fps; source is "
                    f"{n} frames {w}x{h} @ {src_info.fps:g} fps"
                )
        except VideoError as exc:
            record.update(ok=False, error=f"bad output: {exc}")
            out = src
    record.update(score_case(case.edit, src, out, masks, expected))
    t = _thumb_frame(masks)
    record["thumbs"] = {
        "frame": t,
        "source": _write_png(case_out / "source.png", src[t]),
        "output": _write_png(case_out / "output.png", out[t]),
    }
    if expected is not None:
        record["thumbs"]["expected"] = _write_png(case_out / "expected.png", expected[t])
    if model_metrics is not None:
        record["model_metrics"] = model_metrics.compute(case, src, out, masks)
    return record


def _mean(vals: list[float | None]) -> float | None:
    v = [x for x in vals if x is not None]
    return round(float(np.mean(v)), 4) if v else None


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Means of the metrics per level x category cell, per op and overall."""

    def agg(rs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "n": len(rs),
            "failures": sum(not r["ok"] for r in rs),
            "J": _mean([r["J"] for r in rs]),
            "on_target": _mean([1.0 if r["on_target"] else 0.0 for r in rs]),
            "preservation_psnr": _mean([r["preservation"]["psnr"] for r in rs]),
            "preservation_ssim": _mean([r["preservation"]["ssim"] for r in rs]),
            "fidelity_psnr": _mean([r["fidelity"].get("psnr") for r in rs]),
            "fidelity_ssim": _mean([r["fidelity"].get("ssim") for r in rs]),
        }

    cells: dict[str, list] = {}
    ops: dict[str, list] = {}
    for r in records:
        cells.setdefault(f"L{r['level']}/{r['category']}", []).append(r)
        ops.setdefault(str(r["op"]), []).append(r)
    return {
        "overall": agg(records),
        "by_cell": {k: agg(v) for k, v in sorted(cells.items())},
        "by_op": {k: agg(v) for k, v in sorted(ops.items())},
    }


def run_eval(
    suite: str | Path,
    out_dir: str | Path,
    cfg: EvalConfig,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``cfg.system`` on ``suite``; writes ``out_dir``/report.json, index.html and per-case outputs."""
    if cfg.system not in SYSTEMS:
        raise RiverError(f"unknown system {cfg.system!r}; choose one of: {', '.join(SYSTEMS)}")
    suite, out_dir = Path(suite), Path(out_dir)
    cases = list_cases(suite)
    if cfg.limit > 0:
        cases = cases[: cfg.limit]
    if out_dir.resolve() == suite.resolve():
        raise RiverError("the report folder must not be the suite folder (inputs are never overwritten)")
    river = RiverSystem(cfg.gt_twin, cfg.agent_config, cfg.renderer) if cfg.system == "river" else None
    mm = None
    if cfg.model_metrics:
        from river_agent.bench.model_metrics import ModelMetrics

        mm = ModelMetrics.from_env()
    out_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []

    def build_report(complete: bool) -> dict[str, Any]:
        report = {
            "format": "rve-report/1",
            "suite": str(suite),
            "system": cfg.system,
            "config": asdict(cfg),
            "complete": complete,
            "summary": summarize(records),
            "cases": records,
        }
        if mm is not None:
            report["model_metrics"] = mm.describe()
        return report

    try:
        for k, case in enumerate(cases):
            if progress:
                progress(k, len(cases))
            case_out = out_dir / case.id
            case_out.mkdir(parents=True, exist_ok=True)
            output = case_out / "output.mp4"
            if output.exists():
                output.unlink()  # a stale output from an earlier run must not be scored
            start = time.perf_counter()
            if cfg.system == "oracle":
                run = run_oracle(case, output, cfg.renderer)
            elif cfg.system == "baseline":
                run = run_baseline(case, output, cfg.renderer)
            else:
                assert river is not None
                run = river(case, output)
            seconds = time.perf_counter() - start
            record = evaluate_case(case, run, case_out, mm)
            record["seconds"] = round(seconds, 3)
            records.append(record)
            # a long run that is interrupted still leaves a valid (partial) report
            write_text_atomic(out_dir / "report.json", json.dumps(build_report(False), indent=1, default=str))
    finally:
        if river is not None:
            river.close()
    if progress:
        progress(len(cases), len(cases))
    report = build_report(True)
    write_text_atomic(out_dir / "report.json", json.dumps(report, indent=1, default=str))
    from river_agent.bench.report import write_html

    write_html(report, out_dir / "index.html")
    return report
