"""Benchmark perception on RVE-Synth cases: accuracy against each case's ground-truth twin, speed and memory.

    python scripts/bench_perception.py SUITE_DIR [--perception classical] [--speed-frames 96] [--lengths 1,4,16]
        [--no-speed] [--json scores.json]

Accuracy: every case folder under SUITE_DIR with a twin.json is perceived from its video and scored with
``river_agent.tools.perception.evaluate``; where a case has the generator's ``scene.json``, ground-truth objects
are also scored one by one and summed up by how they move in the scene (static, linear, stopping, ...), since a
background model finds moving and standing things very differently. ``--json`` writes every case's scores
(per object too) to a file. Speed: frames/s of the whole pipeline (decode -> twin on disk) on an
832x480 RVE-Synth-style video. Memory: peak RSS of a fresh process perceiving N, 4N and 16N frames (flat = same,
up to the twin itself, a few KB per object and frame).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from river_agent.fsutil import write_text_atomic
from river_agent.tools.perception import get_perception
from river_agent.tools.perception.evaluate import evaluate_dirs, iou_by_motion, scene_motions

METRICS = ("mask_iou", "idf1", "category_accuracy", "centroid_error_px", "depth_order_accuracy")


def by_motion_table(per_object: list[tuple[str, float]]) -> Table:
    table = Table(title="per ground-truth object, by how it moves in the scene")
    for c in ("motion", "objects", "mean mask IoU", "IoU < 0.2"):
        table.add_column(c, justify="right")
    for motion, n, mean, low in iou_by_motion(per_object):
        table.add_row(motion, str(n), f"{mean:.3f}", str(low))
    return table


def accuracy(suite: Path, perception: str, console: Console, json_out: Path | None = None) -> None:
    cases = sorted(p for p in suite.iterdir() if (p / "twin.json").exists() and (p / "case.json").exists())
    if not cases:
        console.print(f"[red]no cases with twin.json under {suite}")
        return
    table = Table(title=f"perception '{perception}' vs ground truth ({suite.name}, {len(cases)} cases)")
    table.add_column("case", no_wrap=True)
    for m in (*METRICS, "objects gt/pred", "s"):
        table.add_column(m, justify="right")
    rows = []
    per_object: list[tuple[str, float]] = []
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            video = case / json.loads((case / "case.json").read_text()).get("video", "video.mp4")
            t0 = time.perf_counter()
            get_perception(perception).run(video, Path(tmp) / case.name, progress=False)
            dt = time.perf_counter() - t0
            s = evaluate_dirs(Path(tmp) / case.name, case)
            rows.append([getattr(s, m) for m in METRICS])
            motions = scene_motions(case)
            per_object += [(motions[g], iou) for g, iou in s.object_iou.items() if g in motions]
            records.append({"case": case.name, "seconds": dt, **s.model_dump(), "motions": motions})
            table.add_row(
                case.name,
                *(f"{getattr(s, m):.3f}" for m in METRICS),
                f"{s.gt_objects}/{s.pred_objects}",
                f"{dt:.2f}",
            )
    mean = np.mean(rows, axis=0)
    table.add_row("[bold]mean", *(f"[bold]{v:.4f}" for v in mean), "", "")
    console.print(table)
    if per_object:
        console.print(by_motion_table(per_object))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        report = {"suite": str(suite), "perception": perception, "cases": records}
        write_text_atomic(json_out, json.dumps(report, indent=1))
        console.print(f"scores written to {json_out}")


def _make_video(path: Path, frames: int, seed: int = 3) -> None:
    """A random RVE-Synth scene at 832x480 (the benchmark's own generator), written losslessly."""
    from river_agent.bench.sampler import sample_scene
    from river_agent.bench.scene import render
    from river_agent.video.io import write_video

    scene = sample_scene(np.random.default_rng(seed), width=832, height=480, num_frames=frames)
    write_video(path, (frame for _, frame, _ in render(scene)), fps=24, quality="lossless")


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux keeps ``ru_maxrss`` across exec (the child would report the parent's peak
    when the parent was bigger), so the kernel's per-process high-water mark is read where there is one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(video: str, out: str, perception: str) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    twin = get_perception(perception).run(video, out, progress=False)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_rss_mb()
    print(json.dumps({"frames": len(twin.frames), "seconds": dt, "cpu_seconds": cpu, "peak_mb": peak}))


def speed(perception: str, n: int, lengths: list[int], console: Console) -> None:
    table = Table(title=f"perception '{perception}' speed and memory at 832x480 (single process)")
    for c in ("frames", "wall s", "frames/s (wall)", "CPU s", "frames/s (CPU)", "peak RSS MB"):
        table.add_column(c, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for frames in (k * n for k in lengths):
            video = Path(tmp) / f"v{frames}.mp4"
            _make_video(video, frames)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(video), str(Path(tmp) / f"o{frames}"), perception],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            table.add_row(
                str(r["frames"]),
                f"{r['seconds']:.2f}",
                f"{r['frames'] / r['seconds']:.1f}",
                f"{r['cpu_seconds']:.2f}",
                f"{r['frames'] / r['cpu_seconds']:.1f}",
                f"{r['peak_mb']:.0f}",
            )
    console.print(table)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:5])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", type=Path, nargs="?", default=Path("tests/fixtures/rve-synth-mini"))
    ap.add_argument("--perception", default="classical")
    ap.add_argument("--speed-frames", type=int, default=96)
    ap.add_argument("--lengths", default="1,4,16", help="Video lengths for speed/memory, as multiples of N.")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="Write every case's scores (per object too) here.")
    args = ap.parse_args()
    console = Console()
    accuracy(args.suite, args.perception, console, args.json)
    if not args.no_speed:
        speed(args.perception, args.speed_frames, [int(k) for k in args.lengths.split(",")], console)


if __name__ == "__main__":
    main()
